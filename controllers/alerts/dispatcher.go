package alerts

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/notifiers"
)

var (
	sentTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fledge_notifications_sent_total", Help: "Notifications delivered, by alert provider.",
	}, []string{"provider"})
	failedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fledge_notifications_failed_total", Help: "Notifications given up on, by alert provider.",
	}, []string{"provider"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(sentTotal, failedTotal)
}

// Dispatcher delivers the outboxes of Canaries. It runs beside the reconcilers, on the
// leader only; each Canary is handled by one worker at a time, in the order of its outbox.
type Dispatcher struct {
	// Client reads AlertProviders from the cache and patches Canary status.
	Client client.Client
	// APIReader reads the Canary as it is now (its outbox may be newer than the cache) and
	// the Secrets of AlertProviders.
	APIReader client.Reader
	Events    events.EventRecorder

	// ClusterName names the cluster in messages.
	ClusterName string
	// DefaultProvider (namespace/name) serves Canaries that name none.
	DefaultProvider string
	// SlackAPIURL overrides Slack's Web API address (tests).
	SlackAPIURL string
	// Retry bounds how long a notification is retried before it is given up.
	Retry notifiers.RetryPolicy
	// Workers deliver for that many Canaries at once.
	Workers int
	// Clock tells the age of a notification.
	Clock clock.PassiveClock

	queue workqueue.TypedRateLimitingInterface[types.NamespacedName]
}

// Enqueue asks for the outbox of a Canary to be delivered.
func (d *Dispatcher) Enqueue(key types.NamespacedName) {
	d.queue.Add(key)
}

// NewQueue prepares the queue; call it before Enqueue and Start.
func (d *Dispatcher) NewQueue() {
	d.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.DefaultTypedControllerRateLimiter[types.NamespacedName](),
		workqueue.TypedRateLimitingQueueConfig[types.NamespacedName]{Name: "alerts"})
}

// NeedLeaderElection: only the leader sends, so that replicas never send twice.
func (d *Dispatcher) NeedLeaderElection() bool { return true }

// Start runs the workers until ctx ends.
func (d *Dispatcher) Start(ctx context.Context) error {
	workers := d.Workers
	if workers <= 0 {
		workers = 4
	}
	var running sync.WaitGroup
	for range workers {
		running.Go(func() { d.work(ctx) })
	}
	<-ctx.Done()
	d.queue.ShutDown()
	// Return only once no worker talks to Slack any more: a new leader may start right after.
	running.Wait()
	return nil
}

func (d *Dispatcher) work(ctx context.Context) {
	for {
		key, shutdown := d.queue.Get()
		if shutdown {
			return
		}
		if err := d.deliver(ctx, key); err != nil {
			log.FromContext(ctx).Error(err, "deliver notifications", "canary", key)
			d.queue.AddRateLimited(key)
		} else {
			d.queue.Forget(key)
		}
		d.queue.Done(key)
	}
}

// deliver sends what each provider of the Canary has not had yet, recording progress after
// every notification.
func (d *Dispatcher) deliver(ctx context.Context, key types.NamespacedName) error {
	canary := &fledgev1alpha1.Canary{}
	if err := d.APIReader.Get(ctx, key, canary); apierrors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	outbox := canary.Status.Notifications
	if outbox == nil || len(outbox.Outbox) == 0 {
		return nil
	}
	// Each provider goes its own pace: a hanging one must not hold the others back.
	targets := TargetsOf(canary, d.DefaultProvider)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex // guards canary, which carries every provider's progress
		errs = make(chan error, len(targets))
	)
	for _, target := range targets {
		wg.Go(func() {
			if err := d.deliverTo(ctx, canary, target, &mu); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

func (d *Dispatcher) deliverTo(ctx context.Context, canary *fledgev1alpha1.Canary, target Target, mu *sync.Mutex) error {
	mu.Lock()
	progress := providerProgress(canary.Status.Notifications, target.Key)
	var pending []fledgev1alpha1.OutboxEntry
	for _, e := range canary.Status.Notifications.Outbox {
		if e.Seq > progress.Seq {
			pending = append(pending, e)
		}
	}
	mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	sender, err := d.sender(ctx, target)
	if err != nil && d.Clock.Since(pending[0].Time.Time) < d.Retry.GiveUpAfter {
		// Perhaps passing (the AlertProvider not in the cache yet, the API server busy): the
		// queue retries with backoff until the notification is as old as the retry bound.
		return err
	}
	for _, entry := range pending {
		n := notification(canary, entry, d.ClusterName)
		switch {
		case err != nil:
			d.failed(canary, target, &progress, err)
		case !notifiers.Allows(target.Severity, n):
		default:
			var thread *notifiers.Thread
			if progress.RolloutID == entry.RolloutID && progress.TS != "" {
				thread = &notifiers.Thread{Channel: progress.Channel, TS: progress.TS}
			}
			t, sendErr := notifiers.Deliver(ctx, sender, n, thread, d.Retry)
			if ctx.Err() != nil {
				// Shutting down is not giving up: the next leader delivers it.
				return ctx.Err()
			}
			if t != nil {
				progress.RolloutID, progress.Channel, progress.TS = entry.RolloutID, t.Channel, t.TS
			}
			if sendErr != nil {
				d.failed(canary, target, &progress, sendErr)
			} else {
				sentTotal.WithLabelValues(target.Key).Inc()
			}
		}
		progress.Seq = entry.Seq
		mu.Lock()
		err := d.record(ctx, canary, progress)
		mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *Dispatcher) failed(canary *fledgev1alpha1.Canary, target Target, progress *fledgev1alpha1.ProviderDelivery, err error) {
	progress.Failures++
	progress.LastError = err.Error()
	failedTotal.WithLabelValues(target.Key).Inc()
	d.Events.Eventf(canary, nil, corev1.EventTypeWarning, "NotificationFailed", "Notify",
		"a notification to AlertProvider %s was given up: %v", target.Key, err)
}

// record writes one provider's progress; only the dispatcher writes status.notifications.providers.
func (d *Dispatcher) record(ctx context.Context, canary *fledgev1alpha1.Canary, progress fledgev1alpha1.ProviderDelivery) error {
	patch := client.MergeFrom(canary.DeepCopy())
	n := canary.Status.Notifications
	found := false
	for i := range n.Providers {
		if n.Providers[i].Provider == progress.Provider {
			n.Providers[i], found = progress, true
		}
	}
	if !found {
		n.Providers = append(n.Providers, progress)
	}
	if err := d.Client.Status().Patch(ctx, canary, patch); err != nil {
		return fmt.Errorf("record the delivery to %s: %w", progress.Provider, err)
	}
	return nil
}

// sender builds the Slack sender of an AlertProvider, with the credentials of its Secret.
func (d *Dispatcher) sender(ctx context.Context, target Target) (notifiers.Sender, error) {
	ap := &fledgev1alpha1.AlertProvider{}
	if err := d.Client.Get(ctx, client.ObjectKey{Namespace: target.Namespace, Name: target.Name}, ap); err != nil {
		return nil, fmt.Errorf("AlertProvider %s: %w", target.Key, err)
	}
	ref := ap.Spec.WebhookURL
	if ap.Spec.BotToken != nil {
		ref = ap.Spec.BotToken
	}
	if ref == nil {
		return nil, fmt.Errorf("AlertProvider %s has neither botToken nor webhookURL", target.Key)
	}
	secret := &corev1.Secret{}
	if err := d.APIReader.Get(ctx, client.ObjectKey{Namespace: ap.Namespace, Name: ref.SecretName}, secret); err != nil {
		return nil, fmt.Errorf("the Secret %s/%s of AlertProvider %s: %w", ap.Namespace, ref.SecretName, target.Key, err)
	}
	value := string(secret.Data[ref.Key])
	if value == "" {
		return nil, fmt.Errorf("the Secret %s/%s of AlertProvider %s has no key %q", ap.Namespace, ref.SecretName, target.Key, ref.Key)
	}
	if ap.Spec.BotToken != nil {
		return notifiers.NewSlackBot(notifiers.BotConfig{Token: value, Channel: ap.Spec.Channel, Username: ap.Spec.Username, IconEmoji: ap.Spec.IconEmoji, APIURL: d.SlackAPIURL})
	}
	return notifiers.NewSlackWebhook(notifiers.WebhookConfig{URL: value, Channel: ap.Spec.Channel, Username: ap.Spec.Username, IconEmoji: ap.Spec.IconEmoji})
}

func providerProgress(n *fledgev1alpha1.NotificationsStatus, key string) fledgev1alpha1.ProviderDelivery {
	for _, p := range n.Providers {
		if p.Provider == key {
			return p
		}
	}
	return fledgev1alpha1.ProviderDelivery{Provider: key}
}

// notification renders an outbox entry for the notifiers, with the Canary's latest metrics.
func notification(canary *fledgev1alpha1.Canary, e fledgev1alpha1.OutboxEntry, cluster string) notifiers.Notification {
	n := notifiers.Notification{
		ID: fmt.Sprintf("%s.%d", canary.UID, e.Seq), RolloutID: string(canary.UID) + "." + e.RolloutID,
		Kind: notifiers.Kind(e.Kind), Cluster: cluster, Namespace: canary.Namespace, Canary: canary.Name,
		Revision: e.Revision, Phase: string(e.Phase), Message: e.Message,
		Weight: e.Weight, Step: e.Step, Steps: e.Steps, FailedChecks: e.FailedChecks, Threshold: e.Threshold,
		Time: e.Time.Time,
	}
	if e.RolloutID == "" {
		n.RolloutID = string(canary.UID) + ".setup"
	}
	for _, r := range canary.Status.History {
		if r.ID == e.RolloutID && e.RolloutID != "" {
			n.Started = r.StartTime.Time
		}
	}
	ranges := map[string]*fledgev1alpha1.ThresholdRange{}
	for _, m := range canary.Spec.Analysis.Metrics {
		ranges[m.Name] = m.ThresholdRange
	}
	for _, m := range canary.Status.Metrics {
		metric := notifiers.Metric{Name: m.Name, Value: m.Value, Primary: m.PrimaryValue, Verdict: m.Verdict}
		if r := ranges[m.Name]; r != nil {
			metric.Min, metric.Max = r.Min, r.Max
		}
		n.Metrics = append(n.Metrics, metric)
	}
	return n
}
