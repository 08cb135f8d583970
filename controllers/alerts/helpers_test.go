package alerts

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/notifiers"
	"fledge.dev/fledge/test/fakeslack"
)

const ns = "team"

// quickRetry keeps the retries of the tests short, with room for a slow machine.
var quickRetry = notifiers.RetryPolicy{Initial: 20 * time.Millisecond, Max: 100 * time.Millisecond, GiveUpAfter: time.Minute}

// world is a Dispatcher running on a fake API server, with its objects.
type world struct {
	t       *testing.T
	objs    []client.Object
	funcs   interceptor.Funcs
	client  client.Client
	d       *Dispatcher
	events  *recorder
	stopped chan struct{}
	stop    context.CancelFunc
}

func newWorld(t *testing.T) *world {
	return &world{t: t, events: &recorder{}}
}

// webhookProvider adds an AlertProvider named name posting to url, with its Secret.
func (w *world) webhookProvider(name, url string) {
	w.webhookProviderIn(ns, name, url, nil)
}

// webhookProviderIn adds an AlertProvider of namespace namespace, shared with sharedWith.
func (w *world) webhookProviderIn(namespace, name, url string, sharedWith []string) {
	w.objs = append(w.objs,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Data: map[string][]byte{"url": []byte(url)}},
		&fledgev1alpha1.AlertProvider{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Spec: fledgev1alpha1.AlertProviderSpec{
			WebhookURL: &fledgev1alpha1.SecretKeyRef{SecretName: name, Key: "url"}, SharedWith: sharedWith,
		}})
}

// botProvider adds an AlertProvider named name with a bot token of the fake Slack.
func (w *world) botProvider(name, channel string) {
	w.objs = append(w.objs,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{"token": []byte(fakeslack.Token)}},
		&fledgev1alpha1.AlertProvider{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: fledgev1alpha1.AlertProviderSpec{
			Channel: channel, BotToken: &fledgev1alpha1.SecretKeyRef{SecretName: name, Key: "token"},
		}})
}

// canary adds a Canary with entries notifications in its outbox, alerting providers.
func (w *world) canary(name string, entries int, providers ...string) *fledgev1alpha1.Canary {
	c := &fledgev1alpha1.Canary{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name)}}
	for _, p := range providers {
		c.Spec.Analysis.Alerts = append(c.Spec.Analysis.Alerts, fledgev1alpha1.CanaryAlert{ProviderRef: fledgev1alpha1.AlertProviderRef{Name: p}, Severity: "info"})
	}
	n := &fledgev1alpha1.NotificationsStatus{NextSeq: int64(entries) + 1}
	for i := 1; i <= entries; i++ {
		n.Outbox = append(n.Outbox, fledgev1alpha1.OutboxEntry{
			Seq: int64(i), RolloutID: "r-1", Kind: "Advanced", Message: fmt.Sprintf("step %d", i), Time: metav1.Now(), Phase: fledgev1alpha1.PhaseProgressing,
		})
	}
	c.Status.Notifications = n
	w.objs = append(w.objs, c)
	return c
}

// start runs the Dispatcher, adjusted by configure, until the test ends.
func (w *world) start(configure func(*Dispatcher)) {
	w.t.Helper()
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		w.t.Fatal(err)
	}
	if err := fledgev1alpha1.AddToScheme(scheme); err != nil {
		w.t.Fatal(err)
	}
	w.client = fake.NewClientBuilder().WithScheme(scheme).
		WithStatusSubresource(&fledgev1alpha1.Canary{}).
		WithObjects(w.objs...).
		WithInterceptorFuncs(w.funcs).
		Build()
	w.d = &Dispatcher{
		Client: w.client, APIReader: w.client, Events: w.events,
		ClusterName: "test", Retry: quickRetry, Clock: clock.RealClock{},
	}
	if configure != nil {
		configure(w.d)
	}
	w.d.NewQueue()
	ctx, cancel := context.WithCancel(context.Background())
	w.stop, w.stopped = cancel, make(chan struct{})
	go func() {
		defer close(w.stopped)
		if err := w.d.Start(ctx); err != nil {
			w.t.Errorf("Start: %v", err)
		}
	}()
	w.t.Cleanup(w.shutDown)
}

// shutDown stops the Dispatcher and waits for its workers, failing if they linger.
func (w *world) shutDown() {
	w.stop()
	select {
	case <-w.stopped:
	case <-time.After(10 * time.Second):
		w.t.Error("the dispatcher did not stop within 10s")
	}
}

func (w *world) enqueue(name string) {
	w.d.Enqueue(types.NamespacedName{Namespace: ns, Name: name})
}

// progress reads how far provider (a name in ns, or namespace/name) got with the Canary name.
func (w *world) progress(name, provider string) fledgev1alpha1.ProviderDelivery {
	w.t.Helper()
	c := &fledgev1alpha1.Canary{}
	if err := w.client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, c); err != nil {
		w.t.Fatal(err)
	}
	if !strings.Contains(provider, "/") {
		provider = ns + "/" + provider
	}
	return providerProgress(c.Status.Notifications, provider)
}

// eventually polls cond until it holds or within passes, then fails with what cond says.
func eventually(t *testing.T, within time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, why)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// counter reads the value of a counter of the dispatcher's metrics.
func counter(vec *prometheus.CounterVec, provider string) float64 {
	var m dto.Metric
	if err := vec.WithLabelValues(provider).Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

// recorder keeps the reasons of the events emitted.
type recorder struct {
	mu      sync.Mutex
	reasons []string
}

func (r *recorder) Eventf(_ runtime.Object, _ runtime.Object, _, reason, _, _ string, _ ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reasons = append(r.reasons, reason)
}

func (r *recorder) count(reason string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, got := range r.reasons {
		if got == reason {
			n++
		}
	}
	return n
}

// testFence is a Fence whose answer a test sets.
type testFence struct {
	mu     sync.Mutex
	refuse error
	checks int
}

func (f *testFence) Check(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checks++
	return f.refuse
}

func (f *testFence) set(refuse error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refuse = refuse
}

func (f *testFence) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.checks
}
