package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"fledge.dev/fledge/analysis"
	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/test/canarytest"
	"fledge.dev/fledge/test/cluster"
	"fledge.dev/fledge/test/meshsim"
)

// app is the Deployment web and its Canary, in a namespace of their own, with 40 requests a
// second sent to it through the mesh.
type app struct {
	ns     string
	canary *fledgev1alpha1.Canary
}

type version struct {
	image     string
	errorRate string
	latency   string
	// calls and tolerant: the hosts each request calls, and whether a failed call is survived.
	calls    string
	tolerant string
}

var (
	good = version{image: "example.com/web:v1", errorRate: "0", latency: "20ms"}
)

func newApp(ctx context.Context, change func(*fledgev1alpha1.Canary)) *app {
	GinkgoHelper()
	a := createApp(ctx, change)
	a.waitPhase(ctx, fledgev1alpha1.PhaseInitialized)
	return a
}

// createApp is newApp without waiting for the Canary to be initialised.
func createApp(ctx context.Context, change func(*fledgev1alpha1.Canary)) *app {
	GinkgoHelper()
	a := &app{ns: "e2e-" + rand.String(5)}
	Expect(k8s.Create(ctx, cluster.EnabledNamespace(a.ns))).To(Succeed())
	labels := map[string]string{"app": "web"}
	Expect(k8s.Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: a.ns, Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: template(labels, good),
		},
	})).To(Succeed())
	minimum, maximum, window := 99.0, 300.0, &metav1.Duration{Duration: 4 * time.Second}
	a.canary = &fledgev1alpha1.Canary{
		ObjectMeta: metav1.ObjectMeta{Namespace: a.ns, Name: "web"},
		Spec: fledgev1alpha1.CanarySpec{
			TargetRef: fledgev1alpha1.TargetRef{Name: "web"},
			Service:   fledgev1alpha1.CanaryService{Port: 80, TargetPort: 8080},
			Analysis: fledgev1alpha1.CanaryAnalysis{
				Interval:  &metav1.Duration{Duration: 2 * time.Second},
				Threshold: 2,
				Metrics: []fledgev1alpha1.CanaryMetric{
					{Name: "success-rate", Builtin: analysis.BuiltinSuccessRate, Interval: window, MinRequests: ptr(int64(10)), ThresholdRange: &fledgev1alpha1.ThresholdRange{Min: &minimum}},
					{Name: "latency", Builtin: analysis.BuiltinDuration, Interval: window, ThresholdRange: &fledgev1alpha1.ThresholdRange{Max: &maximum}},
				},
			},
		},
	}
	if change != nil {
		change(a.canary)
	}
	Expect(k8s.Create(ctx, a.canary)).To(Succeed())
	return a
}

func template(labels map[string]string, v version) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{
			meshsim.AnnotationErrorRate:         v.errorRate,
			meshsim.AnnotationLatency:           v.latency,
			meshsim.AnnotationCalls:             v.calls,
			meshsim.AnnotationToleratesFailures: v.tolerant,
		}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: v.image, Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}},
	}
}

func (a *app) send(mix meshsim.Mix) {
	mix.Namespace, mix.Host = a.ns, "web"
	sendTraffic(a.ns, mix)
}

// release rolls out v: a new image with its own behaviour in the mesh.
func (a *app) release(ctx context.Context, v version) {
	GinkgoHelper()
	Eventually(func() error {
		d := &appsv1.Deployment{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: a.ns, Name: "web"}, d); err != nil {
			return err
		}
		d.Spec.Template = template(d.Spec.Template.Labels, v)
		return k8s.Update(ctx, d)
	}).WithContext(ctx).Should(Succeed())
}

func (a *app) get(ctx context.Context) *fledgev1alpha1.Canary {
	return canarytest.Get(ctx, k8s, client.ObjectKeyFromObject(a.canary))
}

func (a *app) waitPhase(ctx context.Context, phase fledgev1alpha1.CanaryPhase) *fledgev1alpha1.Canary {
	return canarytest.WaitPhase(ctx, k8s, client.ObjectKeyFromObject(a.canary), phase)
}

// noPod is what served counts for a request no pod answered (Envoy's 503 "no healthy
// upstream" or "no cluster").
const noPod = " "

// served sends n real requests through the simulator and counts who served them.
func (a *app) served(ctx context.Context, n int, headers map[string]string) map[string]int {
	GinkgoHelper()
	out := map[string]int{}
	for range n {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+mesh.HTTPAddress+"/", nil)
		Expect(err).NotTo(HaveOccurred())
		req.Host = "web." + a.ns
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		out[resp.Header.Get("X-Served-By")+" "+resp.Header.Get("X-Served-Image")]++
	}
	return out
}

// landOnCanary sends requests without a cookie until one is answered by the canary, and
// returns the cookie that answer set.
func (a *app) landOnCanary(ctx context.Context) string {
	GinkgoHelper()
	for range 100 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+mesh.HTTPAddress+"/", nil)
		Expect(err).NotTo(HaveOccurred())
		req.Host = "web." + a.ns
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		if resp.Header.Get("X-Served-By") == "web-canary" {
			cookie := resp.Header.Get("Set-Cookie")
			Expect(cookie).NotTo(BeEmpty(), "the canary's answer sets the affinity cookie")
			return strings.SplitN(cookie, ";", 2)[0]
		}
	}
	Fail("no request reached the canary")
	return ""
}

// requests is what Prometheus counted for a workload of the app over the last minutes.
func (a *app) requests(ctx context.Context, workload, codes string) float64 {
	GinkgoHelper()
	v, err := query.Query(ctx, fmt.Sprintf(`sum(increase(istio_requests_total{destination_workload_namespace=%q,destination_workload=%q,response_code=~%q}[10m]))`, a.ns, workload, codes), time.Now())
	if err == analysis.ErrNoData {
		return 0
	}
	Expect(err).NotTo(HaveOccurred())
	return v
}

func (a *app) eventReasons(ctx context.Context) []string {
	return canarytest.EventReasons(ctx, k8s, client.ObjectKeyFromObject(a.canary))
}

func ptr[T any](v T) *T { return &v }

var _ = Describe("a rollout through the simulated mesh", func() {
	It("promotes a good version step by step", func(ctx context.Context) {
		a := newApp(ctx, nil)
		a.send(meshsim.Mix{RequestsPerSecond: 40})
		a.release(ctx, version{image: "example.com/web:v2", errorRate: "0", latency: "20ms"})

		c := a.waitPhase(ctx, fledgev1alpha1.PhaseSucceeded)
		Expect(a.served(ctx, 100, nil)).NotTo(HaveKey(noPod), "a request found no pod while the sidecars took the routes back")
		Expect(c.Status.Metrics).To(HaveLen(2))
		Eventually(func() float64 { return a.requests(ctx, "web-canary", ".*") }).WithContext(ctx).Should(BeNumerically(">", 50), "the canary served live traffic")
		Expect(a.requests(ctx, "web-canary", "5..")).To(BeZero())
		Eventually(func() map[string]int { return a.served(ctx, 20, nil) }).WithContext(ctx).WithTimeout(30*time.Second).
			Should(Equal(map[string]int{"web-primary example.com/web:v2": 20}), "the primary serves the new version")
	})

	It("aborts a version whose error rate rises, back to the old one", func(ctx context.Context) {
		a := newApp(ctx, nil)
		a.send(meshsim.Mix{RequestsPerSecond: 40})
		a.release(ctx, version{image: "example.com/web:v2", errorRate: "0.4", latency: "20ms"})

		c := a.waitPhase(ctx, fledgev1alpha1.PhaseFailed)
		Expect(a.served(ctx, 100, nil)).NotTo(HaveKey(noPod), "a request found no pod while the sidecars took the routes back")
		Expect(c.Status.Message).To(ContainSubstring("success-rate"))
		Expect(c.Status.Message).To(ContainSubstring("is below the minimum 99"))
		Expect(a.requests(ctx, "web-canary", "5..")).To(BeNumerically(">", 0), "the canary's errors are in Prometheus")
		Eventually(func() map[string]int { return a.served(ctx, 20, nil) }).WithContext(ctx).WithTimeout(30*time.Second).
			Should(Equal(map[string]int{"web-primary example.com/web:v1": 20}), "all traffic is back on the old version")
	})

	It("aborts a slow version on latency", func(ctx context.Context) {
		a := newApp(ctx, nil)
		a.send(meshsim.Mix{RequestsPerSecond: 40})
		a.release(ctx, version{image: "example.com/web:v2", errorRate: "0", latency: "900ms"})

		c := a.waitPhase(ctx, fledgev1alpha1.PhaseFailed)
		Expect(c.Status.Message).To(ContainSubstring("latency"))
		Expect(c.Status.Message).To(ContainSubstring("is above the maximum 300"))
	})

	// A version that fails everything is the most important one to catch: it must be caught
	// as fast as any other failure, within threshold × interval + one interval of its first
	// traffic (2 × 5 s + 5 s here), not held as "no data" until the progress deadline. The
	// one interval is for the data to arrive (the mesh takes up the route, Prometheus scrapes
	// every second): the 2 s interval of the other specs is shorter than that.
	DescribeTable("aborts a version that fails every request within threshold intervals of its first traffic",
		func(ctx context.Context, v version, metric string) {
			a := newApp(ctx, func(c *fledgev1alpha1.Canary) {
				c.Spec.Analysis.Interval = &metav1.Duration{Duration: 5 * time.Second}
				for i := range c.Spec.Analysis.Metrics {
					c.Spec.Analysis.Metrics[i].Interval = &metav1.Duration{Duration: 5 * time.Second}
				}
			})
			a.send(meshsim.Mix{RequestsPerSecond: 40})
			a.release(ctx, v)

			var firstTraffic time.Time
			Eventually(func(g Gomega) {
				c := a.get(ctx)
				g.Expect(c.Status.StepIndex).To(Equal(int32(1)))
				firstTraffic = c.Status.LastTransitionTime.Time
			}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(20 * time.Millisecond).Should(Succeed())
			c := a.waitPhase(ctx, fledgev1alpha1.PhaseFailed)
			Expect(c.Status.Message).To(ContainSubstring(metric))

			last := c.Status.History[len(c.Status.History)-1]
			Expect(last.Result).To(Equal(fledgev1alpha1.ResultFailed))
			Expect(last.StepsReached).To(Equal(int32(1)), "caught at its first step")
			took := c.Status.LastTransitionTime.Sub(firstTraffic) // microseconds; the record's times are seconds
			AddReportEntry("first traffic to abort", took.String())
			// And a second for the checks' own runs and a scrape: each check runs a few ms after
			// it falls due, and Prometheus scrapes once a second.
			bound := time.Duration(c.Spec.Analysis.Threshold)*c.Spec.Analysis.Interval.Duration + c.Spec.Analysis.Interval.Duration + time.Second
			Expect(took).To(BeNumerically("<=", bound), "aborted %s after its first traffic", took)
			Expect(a.eventReasons(ctx)).NotTo(ContainElement("Promoting"))
		},
		Entry("every answer a 5xx", version{image: "example.com/web:v2", errorRate: "1", latency: "20ms"}, "success-rate: 0 is below the minimum 99"),
		Entry("every answer too slow", version{image: "example.com/web:v2", errorRate: "0", latency: "2s"}, "is above the maximum 300"),
	)

	It("sends only the requests with the header to the canary during an A/B test", func(ctx context.Context) {
		insider := "insider"
		a := newApp(ctx, func(c *fledgev1alpha1.Canary) {
			c.Spec.Analysis.Iterations = ptr(int32(4))
			c.Spec.Analysis.Match = []fledgev1alpha1.HTTPMatch{{Headers: map[string]fledgev1alpha1.StringMatch{"x-canary": {Exact: &insider}}}}
		})
		a.send(meshsim.Mix{RequestsPerSecond: 40, Variants: []meshsim.Variant{{Weight: 70}, {Weight: 30, Headers: map[string]string{"x-canary": "insider"}}}})
		a.release(ctx, version{image: "example.com/web:v2", errorRate: "0", latency: "20ms"})

		Eventually(func() int32 { return a.get(ctx).Status.Iterations }).WithContext(ctx).WithTimeout(time.Minute).Should(BeNumerically(">=", 1))
		// As with Envoy, the mesh takes a moment to pick up the new routes.
		Eventually(func() map[string]int { return a.served(ctx, 10, map[string]string{"x-canary": "insider"}) }).WithContext(ctx).WithTimeout(10 * time.Second).
			Should(Equal(map[string]int{"web-canary example.com/web:v2": 10}))
		Expect(a.served(ctx, 10, nil)).To(Equal(map[string]int{"web-primary example.com/web:v1": 10}))

		a.waitPhase(ctx, fledgev1alpha1.PhaseSucceeded)
		canary, primary := a.requests(ctx, "web-canary", ".*"), a.requests(ctx, "web-primary", ".*")
		Expect(canary).To(BeNumerically(">", 0))
		// The canary only ever got the requests with the header: about 30 % while the test ran.
		Expect(canary / (canary + primary)).To(BeNumerically("<", 0.5))
	})

	It("never promotes while there is no traffic to judge", func(ctx context.Context) {
		a := newApp(ctx, func(c *fledgev1alpha1.Canary) { c.Spec.ProgressDeadlineSeconds = ptr(int32(12)) })
		a.release(ctx, version{image: "example.com/web:v2", errorRate: "0", latency: "20ms"})

		Eventually(func() string { return a.get(ctx).Status.Message }).WithContext(ctx).WithTimeout(time.Minute).
			Should(ContainSubstring("fewer than the 10 needed"))
		c := a.waitPhase(ctx, fledgev1alpha1.PhaseFailed)
		Expect(c.Status.Message).To(ContainSubstring("no verdict within the progress deadline"))
		Expect(a.eventReasons(ctx)).NotTo(ContainElement("Promoting"))
	})
})

var _ = Describe("requests routed by what they are", func() {
	It("mirrors live traffic to the canary without changing the answers, then shifts weights", func(ctx context.Context) {
		a := newApp(ctx, func(c *fledgev1alpha1.Canary) {
			c.Spec.Analysis.Mirror = &fledgev1alpha1.Mirror{Percentage: 100}
			c.Spec.Analysis.Iterations = ptr(int32(3))
			c.Spec.Analysis.StepWeights = []int32{50}
		})
		a.send(meshsim.Mix{RequestsPerSecond: 40})
		a.release(ctx, version{image: "example.com/web:v2", errorRate: "0", latency: "20ms"})

		Eventually(func() int32 { return a.get(ctx).Status.Iterations }).WithContext(ctx).WithTimeout(time.Minute).Should(BeNumerically(">=", 1))
		Expect(a.get(ctx).Status.CanaryWeight).To(BeZero())
		Eventually(func() float64 { return a.requests(ctx, "web-canary", ".*") }).WithContext(ctx).WithTimeout(30*time.Second).
			Should(BeNumerically(">", 20), "mirrored requests show in the canary's metrics")
		Expect(a.served(ctx, 10, nil)).To(Equal(map[string]int{"web-primary example.com/web:v1": 10}), "every answer still comes from the primary")

		a.waitPhase(ctx, fledgev1alpha1.PhaseSucceeded)
	})

	It("sends the testers' requests to the canary whatever the weight, until the rollout ends", func(ctx context.Context) {
		qa := "qa"
		a := newApp(ctx, func(c *fledgev1alpha1.Canary) {
			c.Spec.Analysis.Interval = &metav1.Duration{Duration: 3 * time.Second}
			c.Spec.Analysis.StepWeights = []int32{10, 50}
			c.Spec.Analysis.Testers = []fledgev1alpha1.HTTPMatch{{Headers: map[string]fledgev1alpha1.StringMatch{"x-team": {Exact: &qa}}}}
		})
		a.send(meshsim.Mix{RequestsPerSecond: 40})
		a.release(ctx, version{image: "example.com/web:v2", errorRate: "0", latency: "20ms"})

		Eventually(func() int32 { return a.get(ctx).Status.CanaryWeight }).WithContext(ctx).WithTimeout(time.Minute).Should(Equal(int32(10)))
		Eventually(func() map[string]int { return a.served(ctx, 10, map[string]string{"x-team": "qa"}) }).WithContext(ctx).WithTimeout(10 * time.Second).
			Should(Equal(map[string]int{"web-canary example.com/web:v2": 10}))

		a.waitPhase(ctx, fledgev1alpha1.PhaseSucceeded)
		vs := &istionetworkingv1.VirtualService{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: a.ns, Name: "web"}, vs)).To(Succeed())
		Expect(vs.Spec.Http).To(HaveLen(1), "the testers' route is gone")
		Eventually(func() map[string]int { return a.served(ctx, 10, map[string]string{"x-team": "qa"}) }).WithContext(ctx).WithTimeout(10 * time.Second).
			Should(Equal(map[string]int{"web-primary example.com/web:v2": 10}))
	})
})

var _ = Describe("session affinity", func() {
	It("keeps a user who landed on the canary on it for the rest of the rollout, and lets go after", func(ctx context.Context) {
		a := newApp(ctx, func(c *fledgev1alpha1.Canary) {
			c.Spec.Analysis.Interval = &metav1.Duration{Duration: 4 * time.Second}
			c.Spec.Analysis.StepWeights = []int32{30, 60}
			c.Spec.Analysis.SessionAffinity = &fledgev1alpha1.SessionAffinity{}
		})
		a.send(meshsim.Mix{RequestsPerSecond: 40})
		a.release(ctx, version{image: "example.com/web:v2", errorRate: "0", latency: "20ms"})
		Eventually(func() int32 { return a.get(ctx).Status.CanaryWeight }).WithContext(ctx).WithTimeout(time.Minute).Should(Equal(int32(30)))

		var cookie string
		Eventually(func(g Gomega) {
			cookie = a.landOnCanary(ctx)
			g.Expect(cookie).To(HavePrefix("fledge-canary="))
		}).WithContext(ctx).WithTimeout(10 * time.Second).Should(Succeed())
		Expect(a.served(ctx, 20, map[string]string{"Cookie": "theme=dark; " + cookie})).To(Equal(map[string]int{"web-canary example.com/web:v2": 20}),
			"with the cookie, every request reaches the canary, not 30 % of them")

		a.waitPhase(ctx, fledgev1alpha1.PhaseSucceeded)
		Eventually(func() map[string]int { return a.served(ctx, 10, map[string]string{"Cookie": cookie}) }).WithContext(ctx).WithTimeout(10*time.Second).
			Should(Equal(map[string]int{"web-primary example.com/web:v2": 10}), "after promotion the cookie means nothing")
	})
})

var _ = Describe("the fault-injection gate", func() {
	// newAppWithDependency is an app whose versions call the Service payments on each request.
	newAppWithDependency := func(ctx context.Context) *app {
		GinkgoHelper()
		a := newApp(ctx, func(c *fledgev1alpha1.Canary) {
			c.Spec.Analysis.StepWeights = []int32{20, 60}
			c.Spec.Analysis.Threshold = 1
			c.Spec.Analysis.FaultInjection = &fledgev1alpha1.FaultInjection{
				Dependency: "payments", Iterations: 2,
				Abort: &fledgev1alpha1.FaultAbort{HTTPStatus: 503, Percentage: 100},
			}
		})
		labels := map[string]string{"app": "payments"}
		Expect(k8s.Create(ctx, &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: a.ns, Name: "payments"},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr(int32(1)), Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: template(labels, version{image: "example.com/payments:v1", errorRate: "0", latency: "5ms"}),
			},
		})).To(Succeed())
		Expect(k8s.Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: a.ns, Name: "payments"},
			Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
		})).To(Succeed())
		a.send(meshsim.Mix{RequestsPerSecond: 40})
		return a
	}

	faultsVS := func(ctx context.Context, a *app) (*istionetworkingv1.VirtualService, error) {
		vs := &istionetworkingv1.VirtualService{}
		return vs, k8s.Get(ctx, client.ObjectKey{Namespace: a.ns, Name: "web-fledge-faults"}, vs)
	}

	It("fails a canary that does not survive its dependency failing, before it gets more traffic", func(ctx context.Context) {
		a := newAppWithDependency(ctx)
		a.release(ctx, version{image: "example.com/web:v2", errorRate: "0", latency: "20ms", calls: "payments", tolerant: "false"})

		Eventually(func(g Gomega) {
			vs, err := faultsVS(ctx, a)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(vs.Spec.Http[0].Match[0].SourceLabels).To(HaveKeyWithValue("fledge.dev/role", "canary"), "only the canary's calls are faulted")
		}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())
		c := a.waitPhase(ctx, fledgev1alpha1.PhaseFailed)
		Expect(c.Status.Message).To(ContainSubstring("success-rate"))
		Expect(a.requests(ctx, "web-primary", "5..")).To(BeZero(), "the primary's calls were never faulted")
		Eventually(func() bool { _, err := faultsVS(ctx, a); return apierrors.IsNotFound(err) }).WithContext(ctx).Should(BeTrue(), "the faults are removed")
	})

	It("passes a canary that falls back when its dependency fails", func(ctx context.Context) {
		a := newAppWithDependency(ctx)
		a.release(ctx, version{image: "example.com/web:v2", errorRate: "0", latency: "20ms", calls: "payments", tolerant: "true"})

		Eventually(func() error { _, err := faultsVS(ctx, a); return err }).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())
		// While the gate is open, a canary pod's calls meet the faults istiod gives its sidecar.
		Eventually(func() int {
			istioAnalyzers.compareRoutes(ctx, a.get(ctx), "during the fault gate")
			return istioAnalyzers.faultsCompared()
		}).WithContext(ctx).WithTimeout(10*time.Second).Should(BeNumerically(">", 0),
			"the faults istiod gives a canary pod's sidecar were held against the simulator's")
		a.waitPhase(ctx, fledgev1alpha1.PhaseSucceeded)
		Expect(a.eventReasons(ctx)).NotTo(ContainElement("Halted"))
		_, err := faultsVS(ctx, a)
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the faults are removed")
	})
})
