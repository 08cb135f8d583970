package e2e_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	istioapiv1 "istio.io/api/networking/v1"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/test/meshsim"
)

var _ = Describe("routes that Istio would refuse", func() {
	It("are refused by istiod's validation on the local stack, as on a cluster", func(ctx context.Context) {
		// Written directly, past Fledge: only Istio's own validation stands in the way.
		vs := &istionetworkingv1.VirtualService{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "invalid-regex"},
			Spec: istioapiv1.VirtualService{
				Hosts: []string{"web"},
				Http: []*istioapiv1.HTTPRoute{{
					Match: []*istioapiv1.HTTPMatchRequest{{Headers: map[string]*istioapiv1.StringMatch{
						"x-user": {MatchType: &istioapiv1.StringMatch_Regex{Regex: "(["}},
					}}},
					Route: []*istioapiv1.HTTPRouteDestination{{Destination: &istioapiv1.Destination{Host: "web"}}},
				}},
			},
		}
		err := k8s.Create(ctx, vs)
		Expect(err).To(HaveOccurred(), "the API server stored a VirtualService with a regex that is not RE2")
		Expect(err.Error()).To(ContainSubstring(`admission webhook "validation.istio.io" denied the request`))
		Expect(err.Error()).To(ContainSubstring("error parsing regexp"))

		// The CRD schema alone accepts it: the refusal is istiod's.
		vs.Name = "empty-header-name"
		vs.Spec.Http[0].Match[0].Headers = map[string]*istioapiv1.StringMatch{"": {MatchType: &istioapiv1.StringMatch_Exact{Exact: "x"}}}
		err = k8s.Create(ctx, vs)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("header name cannot be empty"))
	})

	It("are refused at admission when a Canary's A/B match has an empty header name", func(ctx context.Context) {
		insider := "insider"
		canary := &fledgev1alpha1.Canary{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "empty-header"},
			Spec: fledgev1alpha1.CanarySpec{
				TargetRef: fledgev1alpha1.TargetRef{Name: "web"},
				Service:   fledgev1alpha1.CanaryService{Port: 80},
				Analysis: fledgev1alpha1.CanaryAnalysis{
					Iterations: ptr(int32(2)),
					Match:      []fledgev1alpha1.HTTPMatch{{Headers: map[string]fledgev1alpha1.StringMatch{"": {Exact: &insider}}}},
				},
			},
		}
		err := k8s.Create(ctx, canary)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("spec.analysis.match[0]"))
		Expect(err.Error()).To(ContainSubstring("each header name must be an HTTP token"))
	})

	It("are never written: a regex that is not RE2 holds the Canary not Ready, naming the field, until it is fixed", func(ctx context.Context) {
		bad := "(["
		a := createApp(ctx, func(c *fledgev1alpha1.Canary) {
			c.Spec.Analysis.Iterations = ptr(int32(2))
			c.Spec.Analysis.Match = []fledgev1alpha1.HTTPMatch{{Headers: map[string]fledgev1alpha1.StringMatch{"x-canary": {Regex: &bad}}}}
		})

		Eventually(func(g Gomega) {
			ready := meta.FindStatusCondition(a.get(ctx).Status.Conditions, fledgev1alpha1.ConditionReady)
			g.Expect(ready).NotTo(BeNil())
			g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(ready.Reason).To(Equal("InvalidRoutes"))
			g.Expect(ready.Message).To(ContainSubstring("spec.analysis.match[0].headers[x-canary].regex"))
			g.Expect(ready.Message).To(ContainSubstring("not an RE2 regular expression"))
		}).WithContext(ctx).Should(Succeed())
		Eventually(a.eventReasons).WithContext(ctx).Should(ContainElement("InvalidRoutes"))
		// No route, no copy of the target: the rollout has not started.
		Consistently(func() bool {
			err := k8s.Get(ctx, client.ObjectKey{Namespace: a.ns, Name: "web"}, &istionetworkingv1.VirtualService{})
			return apierrors.IsNotFound(err)
		}).WithContext(ctx).WithTimeout(3 * time.Second).Should(BeTrue())
		Expect(a.get(ctx).Status.Phase).To(BeEmpty())

		By("fixing the regex")
		Eventually(func() error {
			c := a.get(ctx)
			fixed := "^insider$"
			c.Spec.Analysis.Match[0].Headers["x-canary"] = fledgev1alpha1.StringMatch{Regex: &fixed}
			return k8s.Update(ctx, c)
		}).WithContext(ctx).Should(Succeed())
		a.waitPhase(ctx, fledgev1alpha1.PhaseInitialized)
		a.send(meshsim.Mix{RequestsPerSecond: 40, Variants: []meshsim.Variant{{Weight: 70}, {Weight: 30, Headers: map[string]string{"x-canary": "insider"}}}})
		a.release(ctx, version{image: "example.com/web:v2", errorRate: "0", latency: "20ms"})
		Eventually(func() map[string]int { return a.served(ctx, 10, map[string]string{"x-canary": "insider"}) }).WithContext(ctx).WithTimeout(time.Minute).
			Should(Equal(map[string]int{"web-canary example.com/web:v2": 10}))
		a.waitPhase(ctx, fledgev1alpha1.PhaseSucceeded)
	})
})
