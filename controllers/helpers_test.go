package controllers_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/test/canarytest"
	"fledge.dev/fledge/test/cluster"
)

// app is a Deployment with its Canary, in a namespace of its own.
type app struct {
	ns     string
	name   string
	canary *fledgev1alpha1.Canary
}

// appOption changes the Canary or the target Deployment before they are created.
type appOption func(*fledgev1alpha1.Canary, *appsv1.Deployment)

func canaryOption(f func(*fledgev1alpha1.Canary)) appOption {
	return func(c *fledgev1alpha1.Canary, _ *appsv1.Deployment) { f(c) }
}

func withInterval(d time.Duration) appOption {
	return canaryOption(func(c *fledgev1alpha1.Canary) { c.Spec.Analysis.Interval = &metav1.Duration{Duration: d} })
}

func withScaleDownDelay(d time.Duration) appOption {
	return canaryOption(func(c *fledgev1alpha1.Canary) { c.Spec.ScaleDownDelaySeconds = ptrTo(int32(d / time.Second)) })
}

func withThreshold(n int32) appOption {
	return canaryOption(func(c *fledgev1alpha1.Canary) { c.Spec.Analysis.Threshold = n })
}

func withTemplate(f func(*corev1.PodTemplateSpec)) appOption {
	return func(_ *fledgev1alpha1.Canary, d *appsv1.Deployment) { f(&d.Spec.Template) }
}

// newApp creates the Deployment `web` (image v1, 2 replicas) and a Canary for it, and waits
// until the Canary is Initialized.
func newApp(ctx context.Context, opts ...appOption) *app {
	GinkgoHelper()
	ns := cluster.EnabledNamespace("canary-" + rand.String(6))
	Expect(k8s.Create(ctx, ns)).To(Succeed())
	return newAppIn(ctx, ns.Name, opts...)
}

// newAppIn is newApp in an existing namespace.
func newAppIn(ctx context.Context, namespace string, opts ...appOption) *app {
	GinkgoHelper()
	return newNamedAppIn(ctx, namespace, "web", opts...)
}

// newNamedAppIn is newAppIn with a Deployment and Canary called name (pods labelled
// app=name), for several applications in one namespace.
func newNamedAppIn(ctx context.Context, namespace, name string, opts ...appOption) *app {
	GinkgoHelper()
	a := &app{ns: namespace, name: name}
	labels := map[string]string{"app": name}
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: a.ns, Name: a.name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptrTo[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "web", Image: "example.com/web:v1",
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
				}}},
			},
		},
	}
	a.canary = &fledgev1alpha1.Canary{
		ObjectMeta: metav1.ObjectMeta{Namespace: a.ns, Name: a.name},
		Spec: fledgev1alpha1.CanarySpec{
			TargetRef: fledgev1alpha1.TargetRef{Name: a.name},
			Service:   fledgev1alpha1.CanaryService{Port: 80, TargetPort: 8080},
			Analysis: fledgev1alpha1.CanaryAnalysis{
				Interval:  &metav1.Duration{Duration: time.Second},
				Threshold: 3,
			},
			// No sidecar here needs time to take the routes back: the canary goes at once
			// (withScaleDownDelay for the specs of the delay).
			ScaleDownDelaySeconds: ptrTo[int32](0),
		},
	}
	for _, o := range opts {
		o(a.canary, deploy)
	}
	Expect(k8s.Create(ctx, deploy)).To(Succeed())
	Expect(k8s.Create(ctx, a.canary)).To(Succeed())
	a.waitPhase(ctx, fledgev1alpha1.PhaseInitialized)
	// The status is written first, the routes right after: wait for them too.
	Eventually(func(g Gomega) {
		vs := &istionetworkingv1.VirtualService{}
		g.Expect(k8s.Get(ctx, a.key(), vs)).To(Succeed())
		g.Expect(vs.Labels).To(HaveKeyWithValue("fledge.dev/canary", a.name))
	}).WithContext(ctx).Should(Succeed())
	return a
}

func (a *app) key() client.ObjectKey { return client.ObjectKey{Namespace: a.ns, Name: a.name} }

func (a *app) get(ctx context.Context) *fledgev1alpha1.Canary {
	return canarytest.Get(ctx, k8s, a.key())
}

func (a *app) waitPhase(ctx context.Context, phase fledgev1alpha1.CanaryPhase) *fledgev1alpha1.Canary {
	return canarytest.WaitPhase(ctx, k8s, a.key(), phase)
}

func (a *app) waitWeight(ctx context.Context, weight int32) {
	canarytest.WaitWeight(ctx, k8s, a.key(), weight)
}

func (a *app) setImage(ctx context.Context, image string) {
	canarytest.SetImage(ctx, k8s, a.key(), image)
}

func (a *app) deployment(ctx context.Context, name string) *appsv1.Deployment {
	GinkgoHelper()
	d := &appsv1.Deployment{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: a.ns, Name: name}, d)).To(Succeed())
	return d
}

// request sends a manual command through the status subresource, as `kubectl fledge` does,
// and waits until Fledge has handled it.
func (a *app) request(ctx context.Context, action fledgev1alpha1.RequestAction) *fledgev1alpha1.HandledRequest {
	GinkgoHelper()
	id := rand.String(10)
	Eventually(func() error {
		c := a.get(ctx)
		patch := client.MergeFrom(c.DeepCopy())
		c.Status.Request = &fledgev1alpha1.ManualRequest{ID: id, Action: action, RequestedBy: cluster.AdminUser}
		return k8s.Status().Patch(ctx, c, patch)
	}).WithContext(ctx).Should(Succeed())
	var handled *fledgev1alpha1.HandledRequest
	Eventually(func(g Gomega) {
		handled = a.get(ctx).Status.LastHandledRequest
		g.Expect(handled).NotTo(BeNil())
		g.Expect(handled.ID).To(Equal(id))
	}).WithContext(ctx).WithTimeout(30 * time.Second).WithPolling(50 * time.Millisecond).Should(Succeed())
	return handled
}

func (a *app) virtualService(ctx context.Context) *istionetworkingv1.VirtualService {
	GinkgoHelper()
	vs := &istionetworkingv1.VirtualService{}
	Expect(k8s.Get(ctx, a.key(), vs)).To(Succeed())
	return vs
}

// eventReasons lists the reasons of the events about the Canary, oldest first.
func (a *app) eventReasons(ctx context.Context) []string {
	return canarytest.EventReasons(ctx, k8s, a.key())
}

// split is the primary and canary weights of the VirtualService at one moment.
type split struct{ primary, canary int32 }

func (s split) String() string { return fmt.Sprintf("%d/%d", s.primary, s.canary) }

// weightLog records every distinct split the VirtualService takes, through a watch, so that
// no short-lived state is missed.
type weightLog struct {
	mu     sync.Mutex
	splits []split
	times  []time.Time
	stop   func()
}

func (a *app) recordWeights() *weightLog {
	GinkgoHelper()
	istio, err := istioclient.NewForConfig(stack.Config)
	Expect(err).NotTo(HaveOccurred())
	w, err := istio.NetworkingV1().VirtualServices(a.ns).Watch(context.Background(), metav1.ListOptions{FieldSelector: "metadata.name=" + a.name})
	Expect(err).NotTo(HaveOccurred())
	log := &weightLog{stop: w.Stop}
	go func() {
		for ev := range w.ResultChan() {
			if ev.Type != watch.Added && ev.Type != watch.Modified {
				continue
			}
			vs := ev.Object.(*istionetworkingv1.VirtualService)
			for _, r := range vs.Spec.Http {
				var s split
				switch {
				case len(r.Route) == 2:
					s = split{r.Route[0].Weight, r.Route[1].Weight}
				case len(r.Route) == 1 && r.Route[0].Destination.GetSubset() == "primary":
					s = split{r.Route[0].Weight, 0} // at rest the primary alone is routed
				default:
					continue
				}
				log.mu.Lock()
				if len(log.splits) == 0 || log.splits[len(log.splits)-1] != s {
					log.splits = append(log.splits, s)
					log.times = append(log.times, time.Now())
				}
				log.mu.Unlock()
			}
		}
	}()
	DeferCleanup(w.Stop)
	return log
}

func (l *weightLog) sequence() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, len(l.splits))
	for i, s := range l.splits {
		out[i] = s.String()
	}
	return out
}

// gaps returns the time between consecutive splits.
func (l *weightLog) gaps() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []time.Duration
	for i := 1; i < len(l.times); i++ {
		out = append(out, l.times[i].Sub(l.times[i-1]))
	}
	return out
}
