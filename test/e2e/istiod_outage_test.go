package e2e_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/test/meshsim"
)

// routedCanaryWeight is the weight the app's VirtualService gives the canary subset.
func (a *app) routedCanaryWeight(ctx context.Context) int32 {
	vs := &istionetworkingv1.VirtualService{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: a.ns, Name: "web"}, vs); err != nil {
		return -1
	}
	for _, r := range vs.Spec.Http {
		for _, d := range r.Route {
			if d.Destination.Subset == "canary" {
				return d.Weight
			}
		}
	}
	return 0
}

var _ = Describe("a rollout while istiod hangs", func() {
	// istiod's webhook has failurePolicy Fail, as on a cluster: while it hangs, no Istio
	// object can be written. The rollout must not move on a step its traffic never reached,
	// nor lose its place, and the sidecars keep routing with what they last had.
	It("holds the step istiod cannot validate, keeps serving on the last routes, and goes on when istiod is back", func(ctx context.Context) {
		a := newApp(ctx, func(c *fledgev1alpha1.Canary) {
			c.Spec.Analysis.StepWeights = []int32{20, 40, 60}
		})
		a.send(meshsim.Mix{RequestsPerSecond: 40})
		a.release(ctx, version{image: "example.com/web:v2", errorRate: "0", latency: "20ms"})
		Eventually(func() int32 { return a.routedCanaryWeight(ctx) }).WithContext(ctx).WithTimeout(time.Minute).Should(Equal(int32(20)))
		// Written is not yet routed: the sidecars take the step once istiod has pushed it (frozen
		// before that, they would keep sending everything to the primary).
		Eventually(func() float64 { return a.requests(ctx, "web-canary", ".*") }).WithContext(ctx).WithTimeout(30*time.Second).
			Should(BeNumerically(">", 10), "the sidecars route the first step")

		var freezeErr error
		thawed := make(chan struct{})
		go func() { defer close(thawed); freezeErr = stack.FreezeIstiod(25 * time.Second) }()
		DeferCleanup(func() { Eventually(thawed).WithTimeout(time.Minute).Should(BeClosed()) })

		By("holding the next step, not Ready, with the webhook's error")
		var held *fledgev1alpha1.Canary
		Eventually(func(g Gomega) {
			held = a.get(ctx)
			ready := meta.FindStatusCondition(held.Status.Conditions, fledgev1alpha1.ConditionReady)
			g.Expect(ready).NotTo(BeNil())
			g.Expect(ready.Reason).To(Equal(fledgev1alpha1.ReasonApplyFailed))
			g.Expect(ready.Message).To(ContainSubstring("validation.istio.io"))
		}).WithContext(ctx).WithTimeout(20 * time.Second).Should(Succeed())
		routed := a.routedCanaryWeight(ctx)
		Consistently(func(g Gomega) {
			c := a.get(ctx)
			g.Expect(c.Status.StepIndex).To(Equal(held.Status.StepIndex), "no step is left while its routes are not in place")
			g.Expect(c.Status.Phase).To(Equal(fledgev1alpha1.PhaseProgressing))
			g.Expect(a.routedCanaryWeight(ctx)).To(Equal(routed))
		}).WithContext(ctx).WithTimeout(6 * time.Second).WithPolling(500 * time.Millisecond).Should(Succeed())

		By("serving every request meanwhile, on the routes the sidecars last had")
		for who := range a.served(ctx, 20, nil) {
			Expect(who).To(BeElementOf("web-primary example.com/web:v1", "web-canary example.com/web:v2"))
		}

		By("going on once istiod is back, to the end")
		Eventually(thawed).WithTimeout(time.Minute).Should(BeClosed())
		Expect(freezeErr).NotTo(HaveOccurred())
		c := a.waitPhase(ctx, fledgev1alpha1.PhaseSucceeded)
		Expect(c.Status.History[len(c.Status.History)-1].StepsReached).To(Equal(int32(3)), "every step was reached")
		Expect(a.eventReasons(ctx)).To(ContainElement(fledgev1alpha1.ReasonApplyFailed))
		ready := meta.FindStatusCondition(c.Status.Conditions, fledgev1alpha1.ConditionReady)
		Expect(ready.Status).To(Equal(metav1.ConditionTrue))
		Eventually(func() map[string]int { return a.served(ctx, 20, nil) }).WithContext(ctx).WithTimeout(30 * time.Second).
			Should(Equal(map[string]int{"web-primary example.com/web:v2": 20}))
	})
})
