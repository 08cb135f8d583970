package controllers_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"fledge.dev/fledge/analysis"
	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

var _ = Describe("a new Canary", func() {
	It("copies the target to a ready primary, routes all traffic to it, and scales the target down", func(ctx context.Context) {
		a := newApp(ctx)
		c := a.get(ctx)
		Expect(c.Status.CanaryWeight).To(BeZero())
		Expect(c.Status.Replicas).To(Equal(int32(2)))
		Expect(meta(c, fledgev1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))

		primary := a.deployment(ctx, "web-primary")
		Expect(primary.Spec.Template.Spec.Containers[0].Image).To(Equal("example.com/web:v1"))
		Expect(primary.Spec.Template.Labels).To(HaveKeyWithValue("app", "web-primary"), "the target's selector must not claim the primary's pods")
		Expect(primary.Status.ReadyReplicas).To(Equal(int32(2)))
		Eventually(func() int32 { return *a.deployment(ctx, "web").Spec.Replicas }).WithContext(ctx).Should(BeZero())

		vs := a.virtualService(ctx)
		Expect(vs.Spec.Http).To(HaveLen(1))
		Expect(vs.Spec.Http[0].Route[0].Destination.Subset).To(Equal("primary"))
		Expect(vs.Spec.Http[0].Route[0].Weight).To(Equal(int32(100)))

		var svc corev1.Service
		Expect(k8s.Get(ctx, a.key(), &svc)).To(Succeed())
		Expect(svc.Spec.Selector).To(Equal(map[string]string{"fledge.dev/canary": "web"}))
		Expect(svc.Spec.Ports[0].TargetPort.IntValue()).To(Equal(8080))
		for _, name := range []string{"web-primary", "web-canary"} {
			Expect(k8s.Get(ctx, client.ObjectKey{Namespace: a.ns, Name: name}, &svc)).To(Succeed())
		}
		var dr istionetworkingv1.DestinationRule
		Expect(k8s.Get(ctx, a.key(), &dr)).To(Succeed())
		// At rest the canary's Deployment has no pods: only the primary's subset is defined
		// (Istio's analyzers count a subset without pods as an error).
		Expect(dr.Spec.Subsets).To(HaveExactElements(HaveField("Name", "primary")))
		Eventually(a.eventReasons).WithContext(ctx).Should(ContainElement("Initialized"))
	})
})

var _ = Describe("a new revision", func() {
	It("moves traffic 80/20, 60/40, 40/60, 20/80, then 0/100 while the primary takes it, then back to the primary", func(ctx context.Context) {
		a := newApp(ctx, withInterval(2*time.Second))
		weights := a.recordWeights()
		a.setImage(ctx, "example.com/web:v2")

		c := a.waitPhase(ctx, fledgev1alpha1.PhaseSucceeded)
		Eventually(weights.sequence).Should(Equal([]string{"100/0", "80/20", "60/40", "40/60", "20/80", "0/100", "100/0"}))
		Expect(meta(c, fledgev1alpha1.ConditionPromoted).Status).To(Equal(metav1.ConditionTrue))
		Expect(c.Status.LastPromotedRevision).To(Equal(c.Status.CanaryRevision))

		Expect(a.deployment(ctx, "web-primary").Spec.Template.Spec.Containers[0].Image).To(Equal("example.com/web:v2"))
		// The status is recorded first, the copies scaled right after.
		Eventually(func() int32 { return *a.deployment(ctx, "web-canary").Spec.Replicas }).WithContext(ctx).Should(BeZero())
		Eventually(func() int32 { return *a.deployment(ctx, "web").Spec.Replicas }).WithContext(ctx).Should(BeZero())
		Eventually(a.eventReasons).WithContext(ctx).Should(ContainElements("RolloutStarted", "Advanced", "Promoting", "Promoted"))

		By("taking one step per interval")
		// Seen through a watch, so each step carries the latency of its own writes, which on a
		// busy machine differs from one step to the next by half a second: half the interval
		// still tells a step per interval from a step per reconcile (milliseconds).
		for _, g := range weights.gaps()[1:4] { // between the 80/20, 60/40, 40/60 and 20/80 steps
			Expect(g).To(BeNumerically(">=", time.Second))
		}
	})

	It("keeps an aborted canary and its subset for the scale-down delay, for the sidecars still sending to it", func(ctx context.Context) {
		a := newApp(ctx, withThreshold(1), withScaleDownDelay(4*time.Second))
		checks.script(a.canary, analysis.Result{Verdict: analysis.Fail, Message: "success rate 91% < 99%"})
		a.setImage(ctx, "example.com/web:v2")

		c := a.waitPhase(ctx, fledgev1alpha1.PhaseFailed)
		ended := c.Status.LastTransitionTime.Time
		Eventually(func() int32 { return a.virtualService(ctx).Spec.Http[0].Route[0].Weight }).WithContext(ctx).Should(Equal(int32(100)))
		canarySubset := func() bool {
			dr := &istionetworkingv1.DestinationRule{}
			Expect(k8s.Get(ctx, a.key(), dr)).To(Succeed())
			for _, s := range dr.Spec.Subsets {
				if s.Name == "canary" {
					return true
				}
			}
			return false
		}
		Consistently(func(g Gomega) {
			g.Expect(*a.deployment(ctx, "web-canary").Spec.Replicas).To(Equal(int32(2)))
			g.Expect(canarySubset()).To(BeTrue())
		}).WithContext(ctx).WithTimeout(time.Until(ended.Add(3 * time.Second))).Should(Succeed())
		Eventually(func() int32 { return *a.deployment(ctx, "web-canary").Spec.Replicas }).WithContext(ctx).WithTimeout(10 * time.Second).Should(BeZero())
		Expect(time.Now()).To(BeTemporally(">=", ended.Add(4*time.Second)), "not before the delay")
		Expect(canarySubset()).To(BeFalse(), "the subset went before the pods")
	})

	It("routes a Canary deleted mid-rollout back to the primary first, and keeps its canary for the scale-down delay", func(ctx context.Context) {
		a := newApp(ctx, withInterval(time.Minute), withScaleDownDelay(4*time.Second))
		a.setImage(ctx, "example.com/web:v2")
		Eventually(func() int32 { return a.virtualService(ctx).Spec.Http[0].Route[0].Weight }).WithContext(ctx).Should(Equal(int32(80)))

		Expect(k8s.Delete(ctx, a.get(ctx))).To(Succeed())
		deleted := time.Now()
		Eventually(func() int32 { return a.virtualService(ctx).Spec.Http[0].Route[0].Weight }).WithContext(ctx).Should(Equal(int32(100)))
		Consistently(func(g Gomega) {
			g.Expect(*a.deployment(ctx, "web-canary").Spec.Replicas).To(Equal(int32(2)), "the canary runs on for the sidecars that still send to it")
		}).WithContext(ctx).WithTimeout(time.Until(deleted.Add(2 * time.Second))).Should(Succeed())
		Eventually(a.eventReasons).WithContext(ctx).Should(ContainElement(fledgev1alpha1.ReasonDraining))

		Eventually(func() bool {
			return apierrors.IsNotFound(k8s.Get(ctx, a.key(), &fledgev1alpha1.Canary{}))
		}).WithContext(ctx).WithTimeout(20 * time.Second).Should(BeTrue())
		Expect(time.Now()).To(BeTemporally(">=", deleted.Add(3*time.Second)), "not deleted before the delay (the deletion time is in whole seconds)")
		Expect(apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Namespace: a.ns, Name: "web-canary"}, &appsv1.Deployment{}))).To(BeTrue(), "the canary copy is gone")
		Expect(*a.deployment(ctx, "web-primary").Spec.Replicas).To(Equal(int32(2)), "the primary keeps serving")
	})

	It("is aborted after threshold failed checks, and all traffic returns to the primary", func(ctx context.Context) {
		a := newApp(ctx, withThreshold(2))
		checks.script(a.canary, analysis.Result{Verdict: analysis.Fail, Message: "success rate 91% < 99%"})
		a.setImage(ctx, "example.com/web:v2")

		c := a.waitPhase(ctx, fledgev1alpha1.PhaseFailed)
		Expect(c.Status.FailedChecks).To(Equal(int32(2)))
		Expect(c.Status.Message).To(ContainSubstring("success rate 91% < 99%"))
		Expect(meta(c, fledgev1alpha1.ConditionPromoted).Reason).To(Equal("Aborted"))
		Eventually(func() int32 { return a.virtualService(ctx).Spec.Http[0].Route[0].Weight }).WithContext(ctx).Should(Equal(int32(100)))
		Eventually(func() int32 { return *a.deployment(ctx, "web-canary").Spec.Replicas }).WithContext(ctx).Should(BeZero())
		Expect(a.deployment(ctx, "web-primary").Spec.Template.Spec.Containers[0].Image).To(Equal("example.com/web:v1"))
		Eventually(a.eventReasons).WithContext(ctx).Should(ContainElements("Halted", "Aborted"))

		By("starting afresh on the next revision")
		checks.script(a.canary, analysis.Result{Verdict: analysis.Pass})
		a.setImage(ctx, "example.com/web:v3")
		c = a.waitPhase(ctx, fledgev1alpha1.PhaseSucceeded)
		Expect(c.Status.FailedChecks).To(BeZero())
		Expect(a.deployment(ctx, "web-primary").Spec.Template.Spec.Containers[0].Image).To(Equal("example.com/web:v3"))
	})

	It("starts again from the first step when the target changes during the rollout", func(ctx context.Context) {
		a := newApp(ctx, withInterval(2*time.Second))
		a.setImage(ctx, "example.com/web:v2")
		a.waitWeight(ctx, 40)
		first := a.get(ctx).Status.CanaryRevision

		weights := a.recordWeights()
		a.setImage(ctx, "example.com/web:v3")
		c := a.waitPhase(ctx, fledgev1alpha1.PhaseSucceeded)
		Expect(c.Status.LastPromotedRevision).NotTo(Equal(first))
		// The watch delivers the last split a moment after the status says Succeeded.
		Eventually(weights.sequence).WithContext(ctx).Should(HaveExactElements("60/40", "100/0", "80/20", "60/40", "40/60", "20/80", "0/100", "100/0"))
		Expect(a.deployment(ctx, "web-primary").Spec.Template.Spec.Containers[0].Image).To(Equal("example.com/web:v3"))
		Eventually(a.eventReasons).WithContext(ctx).Should(ContainElement("RolloutRestarted"))
	})
})

func meta(c *fledgev1alpha1.Canary, conditionType string) metav1.Condition {
	for _, cond := range c.Status.Conditions {
		if cond.Type == conditionType {
			return cond
		}
	}
	return metav1.Condition{}
}

var _ = Describe("an A/B test by header", func() {
	It("routes only matching requests to the canary for each iteration, then promotes", func(ctx context.Context) {
		insider := "insider"
		a := newApp(ctx, canaryOption(func(c *fledgev1alpha1.Canary) {
			c.Spec.Analysis.Interval = &metav1.Duration{Duration: 2 * time.Second}
			c.Spec.Analysis.Iterations = ptrTo[int32](2)
			c.Spec.Analysis.Match = []fledgev1alpha1.HTTPMatch{{Headers: map[string]fledgev1alpha1.StringMatch{"x-canary": {Exact: &insider}}}}
		}))
		weights := a.recordWeights()
		a.setImage(ctx, "example.com/web:v2")
		Eventually(func(g Gomega) {
			vs := a.virtualService(ctx)
			g.Expect(vs.Spec.Http).To(HaveLen(2))
			g.Expect(vs.Spec.Http[0].Match[0].Headers["x-canary"].GetExact()).To(Equal("insider"))
			g.Expect(vs.Spec.Http[0].Route[0].Destination.Subset).To(Equal("canary"))
			g.Expect(vs.Spec.Http[1].Route[0].Weight).To(Equal(int32(100)), "the rest stays on the primary")
		}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())

		c := a.waitPhase(ctx, fledgev1alpha1.PhaseSucceeded)
		Expect(c.Status.Iterations).To(Equal(int32(2)))
		Expect(a.virtualService(ctx).Spec.Http).To(HaveLen(1), "the A/B route is removed")
		Eventually(weights.sequence).WithContext(ctx).Should(Equal([]string{"100/0", "0/100", "100/0"}))
	})
})
