package controllers_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"
	istioapiv1 "istio.io/api/networking/v1"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/test/cluster"
)

var _ = Describe("deleting a Canary", func() {
	It("routes all traffic to the primary and leaves it running", func(ctx context.Context) {
		a := newApp(ctx, withInterval(time.Hour))
		a.setImage(ctx, "example.com/web:v2")
		a.waitWeight(ctx, 20)

		Expect(k8s.Delete(ctx, a.canary)).To(Succeed())
		Eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, a.key(), &fledgev1alpha1.Canary{})) }).
			WithContext(ctx).WithTimeout(30 * time.Second).Should(BeTrue())

		vs := a.virtualService(ctx)
		Expect(vs.Spec.Http[0].Route[0].Weight).To(Equal(int32(100)))
		Expect(vs.OwnerReferences).To(BeEmpty())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Namespace: a.ns, Name: "web-canary"}, &appsv1.Deployment{}))
		}).Should(BeTrue())
		Consistently(func(g Gomega) {
			primary := a.deployment(ctx, "web-primary")
			g.Expect(primary.OwnerReferences).To(BeEmpty())
			g.Expect(primary.Status.ReadyReplicas).To(Equal(int32(2)))
			var svc corev1.Service
			g.Expect(k8s.Get(ctx, a.key(), &svc)).To(Succeed())
		}).WithContext(ctx).WithTimeout(3*time.Second).Should(Succeed(), "the garbage collector must not take the service down")
	})

	It("leaves the primary serving when a Canary of the same name comes back before its target", func(ctx context.Context) {
		a := newApp(ctx, withInterval(time.Hour))
		Expect(k8s.Delete(ctx, a.canary)).To(Succeed())
		Eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, a.key(), &fledgev1alpha1.Canary{})) }).
			WithContext(ctx).WithTimeout(30 * time.Second).Should(BeTrue())
		Expect(k8s.Delete(ctx, a.deployment(ctx, "web"))).To(Succeed())

		By("applying the Canary again while its target is not there yet, as a GitOps tool may")
		again := &fledgev1alpha1.Canary{ObjectMeta: metav1.ObjectMeta{Namespace: a.ns, Name: a.name}, Spec: a.canary.Spec}
		Expect(k8s.Create(ctx, again)).To(Succeed())
		Eventually(func() string { return meta(a.get(ctx), fledgev1alpha1.ConditionReady).Reason }).WithContext(ctx).WithTimeout(30 * time.Second).Should(Equal(fledgev1alpha1.ReasonTargetNotFound))
		Consistently(func() int32 { return *a.deployment(ctx, "web-primary").Spec.Replicas }).
			WithContext(ctx).WithTimeout(3*time.Second).Should(Equal(int32(2)), "the primary left by the first Canary keeps serving")
	})

	It("puts back the user's own VirtualService, keeping its other routes throughout", func(ctx context.Context) {
		ns := "byo-vs-" + rand.String(5)
		Expect(k8s.Create(ctx, cluster.EnabledNamespace(ns))).To(Succeed())
		original := istioapiv1.VirtualService{
			Hosts: []string{"web", "web.example.com"},
			Http: []*istioapiv1.HTTPRoute{
				{Name: "docs", Match: []*istioapiv1.HTTPMatchRequest{{Uri: &istioapiv1.StringMatch{MatchType: &istioapiv1.StringMatch_Prefix{Prefix: "/docs"}}}},
					Route: []*istioapiv1.HTTPRouteDestination{{Destination: &istioapiv1.Destination{Host: "docs"}}}},
				{Name: "web", Route: []*istioapiv1.HTTPRouteDestination{{Destination: &istioapiv1.Destination{Host: "web"}}}},
			},
		}
		userVS := &istionetworkingv1.VirtualService{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}}
		proto.Merge(&userVS.Spec, &original)
		Expect(k8s.Create(ctx, userVS)).To(Succeed())

		a := newAppIn(ctx, ns)
		vs := a.virtualService(ctx)
		Expect(vs.Spec.Hosts).To(Equal(original.Hosts))
		Expect(vs.Spec.Http).To(HaveLen(2))
		Expect(vs.Spec.Http[0].Name).To(Equal("docs"))
		Expect(vs.Spec.Http[0].Route[0].Destination.Host).To(Equal("docs"), "routes to other services are kept")
		Expect(vs.Spec.Http[1].Route).To(HaveLen(1), "at rest the route to the service goes to the primary alone")
		Expect(vs.Spec.Http[1].Route[0].Destination.Subset).To(Equal("primary"))

		Expect(k8s.Delete(ctx, a.canary)).To(Succeed())
		Eventually(func(g Gomega) {
			got := &istionetworkingv1.VirtualService{}
			g.Expect(k8s.Get(ctx, a.key(), got)).To(Succeed())
			g.Expect(proto.Equal(&got.Spec, &original)).To(BeTrue(), "got %v", &got.Spec)
			g.Expect(got.Labels).NotTo(HaveKey("fledge.dev/canary"))
			g.Expect(got.Annotations).NotTo(HaveKey("fledge.dev/original-spec"))
		}).WithContext(ctx).WithTimeout(30 * time.Second).Should(Succeed())
	})
})

var _ = Describe("the routes Fledge writes", func() {
	It("are put back when someone edits them, and the repair is recorded", func(ctx context.Context) {
		a := newApp(ctx)
		vs := a.virtualService(ctx)
		// Half the traffic sent to a canary that has no pods at rest.
		vs.Spec.Http[0].Route[0].Weight = 50
		vs.Spec.Http[0].Route = append(vs.Spec.Http[0].Route, &istioapiv1.HTTPRouteDestination{
			Destination: &istioapiv1.Destination{Host: "web", Subset: "canary"}, Weight: 50,
		})
		Expect(k8s.Update(ctx, vs)).To(Succeed())

		Eventually(func(g Gomega) {
			route := a.virtualService(ctx).Spec.Http[0].Route
			g.Expect(route).To(HaveLen(1))
			g.Expect(route[0].Weight).To(Equal(int32(100)))
		}).WithContext(ctx).WithTimeout(30 * time.Second).Should(Succeed())
		Eventually(func() []string { return a.eventReasons(ctx) }).WithContext(ctx).Should(ContainElement("RoutesRepaired"))
	})

	It("carry every Istio setting of spec.service, and pass Istio's validation", func(ctx context.Context) {
		ns := "settings-" + rand.String(5)
		Expect(k8s.Create(ctx, cluster.EnabledNamespace(ns))).To(Succeed())
		// The platform's ingress Gateway, shared with the Canary's namespace.
		if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "istio-system"}}); err != nil && !apierrors.IsAlreadyExists(err) {
			Expect(err).NotTo(HaveOccurred())
		}
		gateway := &istionetworkingv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "istio-system", Name: "public-" + ns, Annotations: map[string]string{"fledge.dev/shared-with": ns}}}
		gateway.Spec.Servers = []*istioapiv1.Server{{Port: &istioapiv1.Port{Number: 80, Name: "http", Protocol: "HTTP"}, Hosts: []string{ns + "/*"}}}
		Expect(k8s.Create(ctx, gateway)).To(Succeed())
		a := newAppIn(ctx, ns, canaryOption(func(c *fledgev1alpha1.Canary) {
			// Routed for the mesh too: the Service's own names only.
			c.Spec.Service.Hosts = []string{"web." + ns + ".svc.cluster.local", "web"}
			c.Spec.Service.Gateways = []string{"istio-system/public-" + ns, "mesh"}
			c.Spec.Service.Timeout = &metav1.Duration{Duration: 5 * time.Second}
			c.Spec.Service.Retries = &fledgev1alpha1.HTTPRetry{Attempts: 3, PerTryTimeout: &metav1.Duration{Duration: time.Second}, RetryOn: "5xx,connect-failure"}
			c.Spec.Service.Headers = &fledgev1alpha1.HeaderOperations{Request: &fledgev1alpha1.HeaderChanges{Set: map[string]string{"x-via": "fledge"}, Remove: []string{"x-debug"}}}
			c.Spec.Service.TrafficPolicy = &fledgev1alpha1.TrafficPolicy{
				LoadBalancer:     &fledgev1alpha1.LoadBalancer{Simple: "LEAST_REQUEST"},
				ConnectionPool:   &fledgev1alpha1.ConnectionPool{MaxConnections: ptrTo[int32](100), HTTP2MaxRequests: ptrTo[int32](1000), IdleTimeout: &metav1.Duration{Duration: 30 * time.Second}},
				OutlierDetection: &fledgev1alpha1.OutlierDetection{Consecutive5xxErrors: ptrTo[int32](5), Interval: &metav1.Duration{Duration: 10 * time.Second}, BaseEjectionTime: &metav1.Duration{Duration: 30 * time.Second}, MaxEjectionPercent: ptrTo[int32](50)},
				TLSMode:          "ISTIO_MUTUAL",
			}
		}))
		vs := a.virtualService(ctx)
		Expect(vs.Spec.Gateways).To(Equal([]string{"istio-system/public-" + ns, "mesh"}))
		Expect(vs.Spec.Http[0].Timeout.AsDuration()).To(Equal(5 * time.Second))
		Expect(vs.Spec.Http[0].Retries.Attempts).To(Equal(int32(3)))
		Expect(vs.Spec.Http[0].Headers.Request.Set).To(HaveKeyWithValue("x-via", "fledge"))
		var dr istionetworkingv1.DestinationRule
		Expect(k8s.Get(ctx, a.key(), &dr)).To(Succeed())
		Expect(dr.Spec.TrafficPolicy.GetOutlierDetection().GetConsecutive_5XxErrors().GetValue()).To(Equal(uint32(5)))
		Expect(dr.Spec.TrafficPolicy.GetTls().GetMode().String()).To(Equal("ISTIO_MUTUAL"))
		Expect(dr.Spec.TrafficPolicy.GetConnectionPool().GetTcp().GetMaxConnections()).To(Equal(int32(100)))
	})
})

var _ = Describe("a Canary with problems", func() {
	It("says so when its target does not exist, and starts once it does", func(ctx context.Context) {
		ns := "missing-" + rand.String(5)
		Expect(k8s.Create(ctx, cluster.EnabledNamespace(ns))).To(Succeed())
		c := &fledgev1alpha1.Canary{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
			Spec: fledgev1alpha1.CanarySpec{
				TargetRef: fledgev1alpha1.TargetRef{Name: "web"},
				Service:   fledgev1alpha1.CanaryService{Port: 80},
			},
		}
		Expect(k8s.Create(ctx, c)).To(Succeed())
		Eventually(func(g Gomega) {
			got := &fledgev1alpha1.Canary{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(c), got)).To(Succeed())
			ready := meta(got, fledgev1alpha1.ConditionReady)
			g.Expect(ready.Reason).To(Equal("TargetNotFound"))
			g.Expect(ready.Message).To(ContainSubstring("Deployment web (spec.targetRef) does not exist"))
		}).WithContext(ctx).WithTimeout(30 * time.Second).Should(Succeed())
	})

	It("gives the traffic back to the primary when its target is deleted mid-rollout, and goes on once it is back", func(ctx context.Context) {
		a := newApp(ctx, withInterval(2*time.Second))
		a.setImage(ctx, "example.com/web:v2")
		a.waitWeight(ctx, 20)
		weights := a.recordWeights()
		target := a.deployment(ctx, "web")

		By("deleting the target")
		Expect(k8s.Delete(ctx, target)).To(Succeed())
		Eventually(func(g Gomega) {
			c := a.get(ctx)
			g.Expect(meta(c, fledgev1alpha1.ConditionReady).Reason).To(Equal(fledgev1alpha1.ReasonTargetNotFound))
			g.Expect(c.Status.Phase).To(Equal(fledgev1alpha1.PhaseProgressing))
		}).WithContext(ctx).WithTimeout(30 * time.Second).Should(Succeed())
		Eventually(weights.sequence).WithContext(ctx).Should(ContainElement("100/0"), "all traffic back on the primary")
		Consistently(func() int32 { return a.get(ctx).Status.CanaryWeight }).WithContext(ctx).WithTimeout(5 * time.Second).Should(BeZero())

		By("creating the target again, as it was")
		back := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: target.Namespace, Name: target.Name, Labels: target.Labels}, Spec: target.Spec}
		back.Spec.Replicas = ptrTo[int32](2)
		Expect(k8s.Create(ctx, back)).To(Succeed())
		c := a.waitPhase(ctx, fledgev1alpha1.PhaseSucceeded)
		Expect(meta(c, fledgev1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
	})
})

var _ = Describe("suspend and skipAnalysis", func() {
	It("holds a suspended canary where it is", func(ctx context.Context) {
		a := newApp(ctx, withInterval(time.Second))
		a.setImage(ctx, "example.com/web:v2")
		a.waitWeight(ctx, 20)
		// The rollout writes the status each interval, which makes an update of an older read
		// conflict: read again and retry, as setImage does.
		Eventually(func() error {
			c := a.get(ctx)
			c.Spec.Suspend = true
			return k8s.Update(ctx, c)
		}).WithContext(ctx).Should(Succeed())
		Eventually(func() string { return a.get(ctx).Status.Message }).WithContext(ctx).WithTimeout(30 * time.Second).Should(ContainSubstring("suspended"))
		held := a.get(ctx).Status.CanaryWeight
		Consistently(func() int32 { return a.get(ctx).Status.CanaryWeight }).WithContext(ctx).WithTimeout(3 * time.Second).Should(Equal(held))
	})

	It("promotes without steps when skipAnalysis is set", func(ctx context.Context) {
		a := newApp(ctx, canaryOption(func(c *fledgev1alpha1.Canary) { c.Spec.SkipAnalysis = true }))
		weights := a.recordWeights()
		a.setImage(ctx, "example.com/web:v2")
		a.waitPhase(ctx, fledgev1alpha1.PhaseSucceeded)
		Eventually(weights.sequence).Should(Equal([]string{"100/0", "0/100", "100/0"}))
	})
})

var _ = Describe("a reconcile with nothing to do", func() {
	It("writes nothing", func(ctx context.Context) {
		a := newApp(ctx)
		versions := func() []string {
			var out []string
			for _, obj := range []client.Object{&fledgev1alpha1.Canary{}, &istionetworkingv1.VirtualService{}, &istionetworkingv1.DestinationRule{}, &corev1.Service{}} {
				Expect(k8s.Get(ctx, a.key(), obj)).To(Succeed())
				out = append(out, obj.GetResourceVersion())
			}
			return append(out, a.deployment(ctx, "web-primary").ResourceVersion)
		}
		// Let the Deployment controllers settle the status of the primary and the target: wait
		// until nothing has changed for 2s, rather than for 2s whatever happens in them.
		var before []string
		Eventually(func(g Gomega) {
			before = versions()
			g.Consistently(versions).WithContext(ctx).WithTimeout(2 * time.Second).Should(Equal(before))
		}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())

		By("waking the canary with changes of its target that reach the reconciler but ask nothing of it")
		// A new generation of the target passes the watch's filter (an annotation would not),
		// and a revision history limit changes neither the revision nor the replicas.
		// Other specs' Canaries reconcile in this process too: what they do in a quiet spell as
		// long as the one below is the baseline.
		quiet := reconcileCount()
		time.Sleep(3 * time.Second)
		baseline := reconcileCount() - quiet
		reconciles := reconcileCount()
		for i := range 3 {
			target := a.deployment(ctx, "web")
			target.Spec.RevisionHistoryLimit = ptrTo(int32(5 + i))
			Expect(k8s.Update(ctx, target)).To(Succeed())
			time.Sleep(300 * time.Millisecond)
		}
		Consistently(versions).WithContext(ctx).WithTimeout(2 * time.Second).Should(Equal(before))
		Expect(reconcileCount()-reconciles).To(BeNumerically(">=", baseline+3), "the changes must reach the reconciler, or this proves nothing")
	})
})

// reconcileCount is how many reconciles the Canary controller of this process has run.
func reconcileCount() float64 {
	GinkgoHelper()
	families, err := ctrlmetrics.Registry.Gather()
	Expect(err).NotTo(HaveOccurred())
	total := 0.0
	for _, f := range families {
		if f.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && l.GetValue() == "canary" {
					total += m.GetCounter().GetValue()
				}
			}
		}
	}
	return total
}
