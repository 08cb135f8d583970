package controllers_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"
	istioapiv1 "istio.io/api/networking/v1"

	"fledge.dev/fledge/analysis"
	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/router"
)

// The windows between two writes of one reconcile, and edits that land in the middle of a
// rollout: the rollout never goes back unless it aborts.
var _ = Describe("a rollout caught between two writes", func() {
	It("carries through a step whose status was recorded and whose routes were not, without a repair and without judging again", func(ctx context.Context) {
		a := newApp(ctx, withInterval(2*time.Second), withThreshold(10))
		a.setImage(ctx, "example.com/web:v2")
		a.waitWeight(ctx, 20)
		Eventually(func() int32 { return a.virtualService(ctx).Spec.Http[0].Route[1].Weight }).WithContext(ctx).Should(Equal(int32(20)))
		atFirstStep := a.virtualService(ctx)

		a.waitWeight(ctx, 40)
		Eventually(func() int32 { return a.virtualService(ctx).Spec.Http[0].Route[1].Weight }).WithContext(ctx).Should(Equal(int32(40)))
		By("stopping the manager, and putting the routes back as they were before the step, digest included: a crash between the two writes")
		manager.stop()
		DeferCleanup(func() {
			if manager == nil {
				manager = startManager()
			}
		})
		manager = nil
		// From now on every check fails: judging the old step again would hold it at 20 %.
		checks.script(a.canary, analysis.Result{Verdict: analysis.Fail, Message: "error rate 30%"})
		vs := a.virtualService(ctx)
		vs.Spec = *proto.Clone(&atFirstStep.Spec).(*istioapiv1.VirtualService)
		vs.Annotations[router.AnnotationWritten] = atFirstStep.Annotations[router.AnnotationWritten]
		Expect(k8s.Update(ctx, vs)).To(Succeed())
		weights := a.recordWeights()

		manager = startManager()
		Eventually(func() int32 { return a.virtualService(ctx).Spec.Http[0].Route[1].Weight }).WithContext(ctx).
			Should(Equal(int32(40)), "the restarted manager carries out the step the status records")
		Eventually(weights.sequence).WithContext(ctx).Should(Equal([]string{"80/20", "60/40"}))
		Consistently(weights.sequence).WithContext(ctx).WithTimeout(3*time.Second).Should(Equal([]string{"80/20", "60/40"}),
			"the canary weight went back down while the checks fail (no abort yet)")
		Expect(a.eventReasons(ctx)).NotTo(ContainElement(fledgev1alpha1.ReasonRoutesRepaired), "Fledge's own unfinished move is not someone else's edit")
		Expect(a.get(ctx).Status.StepIndex).To(Equal(int32(2)))
	})

	It("continues an edited step plan from the current weight upward", func(ctx context.Context) {
		a := newApp(ctx, withInterval(2*time.Second), canaryOption(func(c *fledgev1alpha1.Canary) {
			c.Spec.Analysis.StepWeights = []int32{20, 40, 60, 80}
		}))
		weights := a.recordWeights()
		a.setImage(ctx, "example.com/web:v2")
		a.waitWeight(ctx, 40)

		By("editing the plan to weights around the one reached")
		Eventually(func() error {
			c := a.get(ctx)
			c.Spec.Analysis.StepWeights = []int32{10, 25, 50, 75}
			return k8s.Update(ctx, c)
		}).WithContext(ctx).Should(Succeed())
		a.waitPhase(ctx, fledgev1alpha1.PhaseSucceeded)
		Eventually(weights.sequence).WithContext(ctx).Should(Equal([]string{"100/0", "80/20", "60/40", "50/50", "25/75", "0/100", "100/0"}))
		Expect(a.eventReasons(ctx)).To(ContainElement(fledgev1alpha1.ReasonReplanned))
	})
})
