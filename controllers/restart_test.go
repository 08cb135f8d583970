package controllers_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

var _ = Describe("a controller restart", func() {
	It("goes on with the rollout from where it was, without repeating or skipping a step", func(ctx context.Context) {
		// Long enough that a manager slow to start on a busy machine (seconds) is told from one
		// that forgot the due time (a whole interval more).
		const interval = 8 * time.Second
		a := newApp(ctx, withInterval(interval))
		weights := a.recordWeights()
		a.setImage(ctx, "example.com/web:v2")

		stepTimes := map[int32]time.Time{}
		record := func() {
			c := a.get(ctx)
			if c.Status.LastTransitionTime != nil && c.Status.Phase == fledgev1alpha1.PhaseProgressing && c.Status.StepIndex > 0 {
				stepTimes[c.Status.StepIndex] = c.Status.LastTransitionTime.Time
			}
		}

		By("stopping the manager right after the first step, for less than an interval")
		a.waitWeight(ctx, 20)
		record()
		manager.stop()
		time.Sleep(interval / 2)
		restarted := time.Now()
		manager = startManager()

		By("stopping it at the third step, for longer than an interval")
		a.waitWeight(ctx, 40)
		record()
		a.waitWeight(ctx, 60)
		record()
		manager.stop()
		time.Sleep(interval + time.Second)
		manager = startManager()
		a.waitWeight(ctx, 80)
		record()

		By("stopping it during the promotion")
		a.waitPhase(ctx, fledgev1alpha1.PhasePromoting)
		manager.stop()
		manager = startManager()
		a.waitPhase(ctx, fledgev1alpha1.PhaseSucceeded)

		Eventually(weights.sequence).Should(Equal([]string{"100/0", "80/20", "60/40", "40/60", "20/80", "0/100", "100/0"}))
		Expect(stepTimes).To(HaveLen(4))
		// The step falls due while the new manager starts, which takes its own time on a busy
		// machine: it is taken at its due time, or as soon as the new manager runs, not an
		// interval after the restart as it would be if the restart had forgotten its due time.
		Expect(stepTimes[2].Sub(stepTimes[1])).To(BeNumerically(">=", interval-500*time.Millisecond))
		Expect(stepTimes[2].Sub(restarted)).To(BeNumerically("<", interval),
			"a restart within the interval keeps the step's due time")
		Expect(stepTimes[3].Sub(stepTimes[2])).To(BeNumerically("~", interval, 500*time.Millisecond))
		Expect(stepTimes[4].Sub(stepTimes[3])).To(BeNumerically(">=", interval+time.Second),
			"the step that fell due while no manager ran is taken once the new one starts")
		Expect(a.deployment(ctx, "web-primary").Spec.Template.Spec.Containers[0].Image).To(Equal("example.com/web:v2"))
	})
})
