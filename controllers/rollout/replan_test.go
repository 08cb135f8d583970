package rollout_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// An edit of the step plan during a rollout is not a verdict on the canary: the rollout goes
// on from the weight it has reached, upward.
var _ = Describe("a step plan edited during a rollout", func() {
	DescribeTable("goes on from the current weight upward, never back down",
		func(plan []int32, wantStep, wantWeight int32, rest []int32) {
			s := newStory().initialised()
			s.spec.Analysis.StepWeights = []int32{20, 40, 60, 80}
			s.newRevision("v2")
			s.reconcile()
			s.reconcile() // step 1: 20 %
			s.wait()      // step 2: 40 %
			Expect(s.status.CanaryWeight).To(Equal(int32(40)))

			By("editing the plan")
			s.spec.Analysis.StepWeights = plan
			s.generation = 2
			s.reconcile()
			Expect(s.status.StepIndex).To(Equal(wantStep))
			Expect(s.status.CanaryWeight).To(Equal(wantWeight))
			Expect(s.events[len(s.events)-1].Reason).To(Equal(fledgev1alpha1.ReasonReplanned))

			s.until(fledgev1alpha1.PhaseSucceeded, 20)
			Expect(s.weights).To(Equal(append([]int32{0, 20, 40}, rest...)), "the canary weight over the whole rollout")
		},
		Entry("the same weight is in the new plan: it stays, the plan's next weights follow",
			[]int32{10, 20, 30, 40, 50}, int32(4), int32(40), []int32{50, 100, 0}),
		Entry("the weight falls between two steps: it stays until the next planned weight above",
			[]int32{10, 25, 50, 75}, int32(2), int32(40), []int32{50, 75, 100, 0}),
		Entry("every planned weight is above: it moves up to the first",
			[]int32{50, 90}, int32(1), int32(50), []int32{50, 90, 100, 0}),
		Entry("every planned weight is below: it stays and promotes at the next pass",
			[]int32{5, 10}, int32(2), int32(40), []int32{100, 0}),
	)

	It("that becomes an A/B test starts again from its first step: it routes by request, not by weight", func() {
		s := newStory().initialised()
		s.newRevision("v2")
		s.reconcile()
		s.reconcile()
		s.wait()
		Expect(s.status.CanaryWeight).To(Equal(int32(40)))
		insider := "insider"
		s.spec.Analysis.Match = []fledgev1alpha1.HTTPMatch{{Headers: map[string]fledgev1alpha1.StringMatch{"x-canary": {Exact: &insider}}}}
		s.generation = 2
		s.reconcile()
		Expect(s.events[len(s.events)-2].Reason).To(Equal(fledgev1alpha1.ReasonRestarted))
		Expect(s.status.CanaryWeight).To(BeZero())
		Expect(s.last.Want.Routes.Match).To(Equal(s.spec.Analysis.Match), "the first A/B step")
		s.until(fledgev1alpha1.PhaseSucceeded, 20)
	})

	It("that moves the rollout up judges the new weight an interval later, on its own traffic", func() {
		s := newStory().initialised()
		s.newRevision("v2")
		s.reconcile()
		s.reconcile() // step 1: 20 %
		s.spec.Analysis.StepWeights = []int32{50, 90}
		s.generation = 2
		s.now = s.now.Add(59 * time.Second) // the check of 20 % is due in a second
		s.reconcile()
		Expect(s.status.CanaryWeight).To(Equal(int32(50)))
		checks := s.checksRun
		s.now = s.now.Add(2 * time.Second)
		s.reconcile()
		Expect(s.checksRun).To(Equal(checks), "the 50 percent step was judged at once, on the traffic of 20 percent")
		Expect(s.last.RequeueAfter).To(BeNumerically("~", 58*time.Second, time.Second))
	})

	It("leaves a rollout alone when another part of the spec changes", func() {
		s := newStory().initialised()
		s.newRevision("v2")
		s.reconcile()
		s.reconcile()
		s.wait()
		before := s.status.DeepCopy()
		s.spec.Service.Hosts = []string{"web.example.com"}
		s.generation = 2
		s.reconcile()
		Expect(s.status.StepIndex).To(Equal(before.StepIndex))
		Expect(s.status.CanaryWeight).To(Equal(before.CanaryWeight))
		for _, e := range s.events {
			Expect(e.Reason).NotTo(Equal(fledgev1alpha1.ReasonReplanned))
		}
	})
})
