package controllers_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	istioapiv1 "istio.io/api/networking/v1"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/test/cluster"
)

var _ = Describe("manual control through status.request", func() {
	It("promotes at once, skipping the remaining steps", func(ctx context.Context) {
		a := newApp(ctx, withInterval(time.Hour))
		a.setImage(ctx, "example.com/web:v2")
		a.waitWeight(ctx, 20)

		handled := a.request(ctx, fledgev1alpha1.RequestPromote)
		Expect(handled.Accepted).To(BeTrue(), handled.Message)
		a.waitPhase(ctx, fledgev1alpha1.PhaseSucceeded)
		Expect(a.deployment(ctx, "web-primary").Spec.Template.Spec.Containers[0].Image).To(Equal("example.com/web:v2"))
	})

	It("advances one step at a time", func(ctx context.Context) {
		a := newApp(ctx, withInterval(time.Hour))
		a.setImage(ctx, "example.com/web:v2")
		a.waitWeight(ctx, 20)
		Expect(a.request(ctx, fledgev1alpha1.RequestPromoteStep).Accepted).To(BeTrue())
		a.waitWeight(ctx, 40)
		Expect(a.get(ctx).Status.StepIndex).To(Equal(int32(2)))
	})

	It("aborts at once, and retries the same revision on request", func(ctx context.Context) {
		a := newApp(ctx, withInterval(time.Hour))
		a.setImage(ctx, "example.com/web:v2")
		a.waitWeight(ctx, 20)

		Expect(a.request(ctx, fledgev1alpha1.RequestAbort).Accepted).To(BeTrue())
		c := a.waitPhase(ctx, fledgev1alpha1.PhaseFailed)
		Expect(c.Status.Message).To(ContainSubstring("aborted on request by " + cluster.AdminUser))
		// All traffic back on the primary, the only destination left.
		Eventually(func() []*istioapiv1.HTTPRouteDestination { return a.virtualService(ctx).Spec.Http[0].Route }).WithContext(ctx).
			Should(HaveExactElements(HaveField("Destination.Subset", "primary")))

		Expect(a.request(ctx, fledgev1alpha1.RequestRetry).Accepted).To(BeTrue())
		a.waitPhase(ctx, fledgev1alpha1.PhaseProgressing)
		a.waitWeight(ctx, 20)
		Expect(a.request(ctx, fledgev1alpha1.RequestPromote).Accepted).To(BeTrue())
		a.waitPhase(ctx, fledgev1alpha1.PhaseSucceeded)
	})

	It("holds the step while paused and goes on when resumed", func(ctx context.Context) {
		a := newApp(ctx, withInterval(time.Second))
		Expect(a.request(ctx, fledgev1alpha1.RequestPause).Accepted).To(BeTrue())
		a.setImage(ctx, "example.com/web:v2")
		Eventually(func() string { return a.get(ctx).Status.Message }).WithContext(ctx).WithTimeout(time.Minute).
			Should(ContainSubstring("paused before the first step"))
		Consistently(func() int32 { return a.get(ctx).Status.CanaryWeight }).WithContext(ctx).WithTimeout(3 * time.Second).Should(BeZero())

		Expect(a.request(ctx, fledgev1alpha1.RequestResume).Accepted).To(BeTrue())
		a.waitPhase(ctx, fledgev1alpha1.PhaseSucceeded)
	})

	It("refuses a request that does not apply, and says why", func(ctx context.Context) {
		a := newApp(ctx)
		handled := a.request(ctx, fledgev1alpha1.RequestPromote)
		Expect(handled.Accepted).To(BeFalse())
		Expect(handled.Message).To(ContainSubstring("no rollout is in progress"))
		Eventually(a.eventReasons).WithContext(ctx).Should(ContainElement("RequestRejected"))
	})
})
