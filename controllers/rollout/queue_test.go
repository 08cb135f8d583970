package rollout_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"fledge.dev/fledge/analysis"
	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/rollout"
)

const capReached = "the cluster runs at most 1 rollout at once (--max-concurrent-rollouts)"

var _ = Describe("a new revision while the cap on simultaneous rollouts is reached", func() {
	var s *story
	BeforeEach(func() {
		s = newStory().initialised()
		s.queueFull = capReached
		s.newRevision("v2")
	})

	It("waits Queued with the primary serving as before, then rolls out once a slot frees", func() {
		d := s.reconcile()
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhaseQueued))
		Expect(s.status.Queue).To(Equal(&fledgev1alpha1.QueueStatus{Revision: "v2", Since: metav1.NewTime(s.now), After: fledgev1alpha1.PhaseInitialized}))
		Expect(s.status.Message).To(Equal("queued: " + capReached))
		Expect(reasons(s.events)).To(Equal([]string{fledgev1alpha1.ReasonQueued}))
		Expect(condition(s.status, fledgev1alpha1.ConditionProgressing)).To(HaveField("Reason", "Queued"))
		Expect(d.Want.Routes).To(Equal(split(100, 0)))
		Expect(d.Want.CanaryReplicas).To(BeZero(), "a queued revision runs no pod")
		Expect(d.Want.CanaryRevision).To(BeEmpty())
		Expect(d.RequeueAfter).To(Equal(time.Minute), "a queued Canary looks again, should the wake be missed")

		s.now = s.now.Add(time.Minute)
		s.reconcile()
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhaseQueued), "still no slot")

		s.queueFull = ""
		s.events = nil
		s.reconcile()
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhaseProgressing))
		Expect(s.status.Queue).To(BeNil())
		Expect(s.status.CanaryRevision).To(Equal("v2"))
		Expect(reasons(s.events)).To(Equal([]string{fledgev1alpha1.ReasonStarted}))
		s.until(fledgev1alpha1.PhaseSucceeded, 20)
		Expect(s.status.LastPromotedRevision).To(Equal("v2"))
	})

	It("keeps its place when the target changes again, and waits with the newest revision", func() {
		s.reconcile()
		since := s.status.Queue.Since
		s.now = s.now.Add(10 * time.Second)
		s.events = nil
		s.newRevision("v3")
		s.reconcile()
		Expect(s.status.Queue.Revision).To(Equal("v3"))
		Expect(s.status.Queue.Since).To(Equal(since), "the queue is served oldest first")
		Expect(s.events).To(BeEmpty())
	})

	It("is dropped when the target goes back to the promoted revision", func() {
		s.reconcile()
		s.events = nil
		s.newRevision("v1")
		s.reconcile()
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhaseInitialized))
		Expect(s.status.Queue).To(BeNil())
		Expect(reasons(s.events)).To(Equal([]string{fledgev1alpha1.ReasonDequeued}))
		Expect(s.status.Message).To(Equal("the target went back to the promoted revision v1"))
	})

	It("rejects a promote request: nothing runs to promote", func() {
		s.reconcile()
		s.request("r1", fledgev1alpha1.RequestPromote)
		Expect(s.status.LastHandledRequest).To(HaveField("Accepted", BeFalse()))
		Expect(s.status.LastHandledRequest.Message).To(ContainSubstring("the phase is Queued"))
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhaseQueued))
	})
})

var _ = Describe("a rollout that runs while the cap is reached", func() {
	It("keeps its slot: a new revision during it starts again at once", func() {
		s := newStory().initialised()
		s.newRevision("v2")
		s.reconcile()
		s.until(fledgev1alpha1.PhaseProgressing, 2)
		s.wait()
		Expect(s.status.CanaryWeight).To(Equal(int32(20)))

		s.newRevision("v3")
		obs := s.observation()
		Expect(rollout.WantsSlot(&obs)).To(BeFalse(), "a running rollout asks for no slot")
		obs.QueueFull = capReached // and would not give up its slot if it were told
		d := rollout.Decide(obs)
		Expect(d.Status.Phase).To(Equal(fledgev1alpha1.PhaseProgressing))
		Expect(d.Status.CanaryRevision).To(Equal("v3"))
		Expect(reasons(d.Events)).To(ContainElement(fledgev1alpha1.ReasonRestarted))
	})
})

var _ = Describe("a revision queued right after a rollout ended", func() {
	It("leaves the ended rollout's canary draining for the scale-down delay", func() {
		s := newStory().initialised()
		s.newRevision("v2")
		s.reconcile()
		s.until(fledgev1alpha1.PhaseSucceeded, 20)
		ended := s.now

		s.queueFull = capReached
		s.newRevision("v3")
		d := s.reconcile()
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhaseQueued))
		Expect(s.status.Queue.After).To(Equal(fledgev1alpha1.PhaseSucceeded))
		Expect(d.Want.Routes.KeepCanarySubset).To(BeTrue())
		Expect(d.Want.CanaryReplicas).To(Equal(int32(3)))
		Expect(d.Want.PrimaryRevision).To(Equal("v2"))

		s.now = ended.Add(time.Minute)
		d = s.reconcile()
		Expect(d.Want.CanaryReplicas).To(BeZero(), "drained")
		Expect(d.Want.Routes.KeepCanarySubset).To(BeFalse())
	})
})

var _ = Describe("a retry while the cap is reached", func() {
	It("waits Queued, and rolls the failed revision out again once a slot frees", func() {
		s := newStory().initialised()
		s.verdict = analysis.Result{Verdict: analysis.Fail, Message: "bad"}
		s.newRevision("v2")
		s.reconcile()
		s.until(fledgev1alpha1.PhaseFailed, 10)

		s.verdict = analysis.Result{Verdict: analysis.Pass}
		s.queueFull = capReached
		s.request("r1", fledgev1alpha1.RequestRetry)
		Expect(s.status.LastHandledRequest).To(HaveField("Accepted", BeTrue()))
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhaseQueued))
		Expect(s.status.Queue.Revision).To(Equal("v2"), "the failed revision itself waits")
		Expect(s.status.Queue.After).To(Equal(fledgev1alpha1.PhaseFailed))

		s.now = s.now.Add(time.Minute)
		s.reconcile()
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhaseQueued), "a queued retry is not taken for the failed revision it tries again")

		s.queueFull = ""
		s.reconcile()
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhaseProgressing))
		s.until(fledgev1alpha1.PhaseSucceeded, 20)
		Expect(s.status.LastPromotedRevision).To(Equal("v2"))
	})

	It("is dropped, back to Failed, when the target moves to the failed revision's own", func() {
		s := newStory().initialised()
		s.verdict = analysis.Result{Verdict: analysis.Fail, Message: "bad"}
		s.newRevision("v2")
		s.reconcile()
		s.until(fledgev1alpha1.PhaseFailed, 10)
		s.queueFull = capReached
		s.newRevision("v3")
		s.reconcile()
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhaseQueued))
		s.newRevision("v2")
		s.reconcile()
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhaseFailed))
		Expect(s.status.Queue).To(BeNil())
	})
})

var _ = DescribeTable("WantsSlot",
	func(phase fledgev1alpha1.CanaryPhase, target string, mutate func(*rollout.Observation), want bool) {
		obs := rollout.Observation{
			Status: fledgev1alpha1.CanaryStatus{Phase: phase, LastPromotedRevision: "v1", CanaryRevision: "v2"},
			Target: rollout.Workload{Exists: true, Revision: target},
		}
		if mutate != nil {
			mutate(&obs)
		}
		Expect(rollout.WantsSlot(&obs)).To(Equal(want))
	},
	Entry("a new revision after a success", fledgev1alpha1.PhaseSucceeded, "v3", nil, true),
	Entry("the promoted revision", fledgev1alpha1.PhaseSucceeded, "v1", nil, false),
	Entry("the failed revision", fledgev1alpha1.PhaseFailed, "v2", nil, false),
	Entry("a retry of the failed revision", fledgev1alpha1.PhaseFailed, "v2", func(o *rollout.Observation) {
		o.Status.Request = &fledgev1alpha1.ManualRequest{ID: "r1", Action: fledgev1alpha1.RequestRetry}
	}, true),
	Entry("a retry already handled", fledgev1alpha1.PhaseFailed, "v2", func(o *rollout.Observation) {
		o.Status.Request = &fledgev1alpha1.ManualRequest{ID: "r1", Action: fledgev1alpha1.RequestRetry}
		o.Status.LastHandledRequest = &fledgev1alpha1.HandledRequest{ID: "r1"}
	}, false),
	Entry("a queued revision", fledgev1alpha1.PhaseQueued, "v3", nil, true),
	Entry("a running rollout", fledgev1alpha1.PhaseProgressing, "v3", nil, false),
	Entry("a promotion", fledgev1alpha1.PhasePromoting, "v3", nil, false),
	Entry("a Canary not yet initialised", fledgev1alpha1.PhaseInitializing, "v3", nil, false),
	Entry("a suspended Canary", fledgev1alpha1.PhaseSucceeded, "v3", func(o *rollout.Observation) { o.Spec.Suspend = true }, false),
	Entry("a target that is gone", fledgev1alpha1.PhaseSucceeded, "v3", func(o *rollout.Observation) { o.Target.Exists = false }, false),
)
