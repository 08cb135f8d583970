package rollout_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"fledge.dev/fledge/analysis"
	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/rollout"
)

// When the checks run is the decision's to say: it asks for them (Decision.Check) and judges
// only the verdict it is handed back.
var _ = Describe("the checks of a step", func() {
	var s *story
	BeforeEach(func() {
		s = newStory().initialised()
		s.newRevision("v2")
		s.reconcile()
		s.reconcile() // first step
		Expect(s.status.StepIndex).To(Equal(int32(1)))
	})

	// ask decides without a verdict, as the reconciler's first look does.
	ask := func() rollout.Decision { return rollout.Decide(s.observation()) }

	It("are asked for once due, and nothing is judged until their verdict comes back", func() {
		Expect(ask().Check).To(BeNil(), "not before the interval has passed")
		s.now = s.now.Add(time.Minute)
		d := ask()
		Expect(d.Check).NotTo(BeNil())
		Expect(d.Status.StepIndex).To(Equal(int32(1)), "no step without a verdict")
		Expect(d.Status.LastCheckTime).To(Equal(s.status.LastCheckTime), "no check recorded without a verdict")
		Expect(d.Events).To(BeEmpty())
		Expect(d.Want.Routes).To(Equal(s.last.Want.Routes), "no step without a verdict")
		Expect(d.RequeueAfter).To(Equal(time.Minute), "the verdict wakes the canary; a timer only if it never comes")
		Expect(ask().Check).To(Equal(d.Check), "the same step and due time name the same checks")

		s.reconcile()
		Expect(s.status.StepIndex).To(Equal(int32(2)))
		Expect(s.checksRun).To(Equal(1))
	})

	It("name the step and due time they are for, so that a verdict cannot be taken for another", func() {
		s.now = s.now.Add(time.Minute)
		first := ask().Check
		s.verdict = analysis.Result{Verdict: analysis.Fail, Message: "errors"}
		s.reconcile()
		s.now = s.now.Add(time.Minute)
		Expect(ask().Check).NotTo(Equal(first), "the next check of the same step is another")
	})

	It("name the spec they measure: a verdict measured before an edit is not taken after it", func() {
		s.now = s.now.Add(time.Minute)
		before := ask().Check
		obs := s.observation()
		obs.Generation = 2
		Expect(rollout.Decide(obs).Check).NotTo(Equal(before))
	})

	It("count the next interval from when they started, not from when their verdict came", func() {
		s.now = s.now.Add(time.Minute)
		started := s.now
		obs := s.observation()
		obs.Now = started.Add(20 * time.Second) // the checks took 20 s
		obs.Checks, obs.ChecksStarted = &analysis.Result{Verdict: analysis.Pass}, started
		d := rollout.Decide(obs)
		Expect(d.Status.StepIndex).To(Equal(int32(2)))
		Expect(d.Status.LastCheckTime.Time).To(Equal(started))
		Expect(d.RequeueAfter).To(Equal(40*time.Second), "the next step falls due one interval after the checks started")
	})

	It("are not asked for while paused, nor in the reconcile that pauses", func() {
		s.now = s.now.Add(time.Minute)
		s.status.Request = &fledgev1alpha1.ManualRequest{ID: "p", Action: fledgev1alpha1.RequestPause}
		Expect(ask().Check).To(BeNil())
		s.reconcile()
		s.now = s.now.Add(time.Hour)
		Expect(ask().Check).To(BeNil())
		Expect(s.checksRun).To(BeZero())
	})

	It("are asked for in the reconcile that resumes an overdue step", func() {
		s.request("p", fledgev1alpha1.RequestPause)
		s.now = s.now.Add(time.Hour)
		s.status.Request = &fledgev1alpha1.ManualRequest{ID: "r", Action: fledgev1alpha1.RequestResume}
		Expect(ask().Check).NotTo(BeNil())
	})

	It("are not asked for while suspended, nor for a target that changed", func() {
		s.now = s.now.Add(time.Minute)
		s.spec.Suspend = true
		Expect(ask().Check).To(BeNil())
		s.spec.Suspend = false
		s.target.Revision = "v3"
		d := ask()
		Expect(d.Check).To(BeNil(), "the rollout starts again instead")
		Expect(d.Status.CanaryRevision).To(Equal("v3"))
	})

	It("are not asked of a canary that is not ready: that counts as a failed check", func() {
		s.now = s.now.Add(time.Minute)
		s.canary.Ready = false
		d := ask()
		Expect(d.Check).To(BeNil())
		Expect(d.Status.FailedChecks).To(Equal(int32(1)))
	})

	It("are not asked for after a request advanced the step in the same reconcile", func() {
		s.now = s.now.Add(time.Minute)
		s.status.Request = &fledgev1alpha1.ManualRequest{ID: "s", Action: fledgev1alpha1.RequestPromoteStep}
		d := ask()
		Expect(d.Check).To(BeNil(), "the new step's checks fall due one interval later")
		Expect(d.Status.StepIndex).To(Equal(int32(2)))
	})

	It("ask for a preflight of the providers when a rollout starts, and only then", func() {
		t := newStory().initialised()
		t.newRevision("v2")
		Expect(rollout.Decide(t.observation()).Preflight).To(BeTrue())
		t.reconcile()
		Expect(rollout.Decide(t.observation()).Preflight).To(BeFalse())
		t.target.Revision = "v3"
		Expect(rollout.Decide(t.observation()).Preflight).To(BeTrue(), "a restart is a start too")
	})
})
