package rollout_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"fledge.dev/fledge/analysis"
	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/rollout"
)

var _ = Describe("a new Canary", func() {
	It("waits for the primary, then routes all traffic to it and scales the target down", func() {
		s := newStory()
		s.holdPrimary = true
		d := s.reconcile()
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhaseInitializing))
		Expect(s.status.Replicas).To(Equal(int32(3)), "each version runs as many replicas as the target asked for")
		want := rollout.DesiredFor(&s.spec, &d.Status, s.now)
		Expect(want.PrimaryRevision).To(Equal("v1"))
		Expect(want.RoutesEnabled).To(BeFalse(), "no route changes before the primary can serve")
		Expect(want.ScaleDownTarget).To(BeFalse())
		Expect(condition(s.status, fledgev1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionFalse))

		s.holdPrimary = false
		s.primary.Ready = true
		d = s.reconcile()
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhaseInitialized))
		Expect(s.status.LastPromotedRevision).To(Equal("v1"))
		want = rollout.DesiredFor(&s.spec, &d.Status, s.now)
		Expect(want.RoutesEnabled).To(BeTrue())
		Expect([]int32{want.Routes.PrimaryWeight, want.Routes.CanaryWeight}).To(Equal([]int32{100, 0}))
		Expect(want.ScaleDownTarget).To(BeTrue())
		Expect(want.CanaryReplicas).To(BeZero())
		Expect(reasons(s.events)).To(Equal([]string{fledgev1alpha1.ReasonInitialized}))
		Expect(condition(s.status, fledgev1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
	})

	It("keeps the replica count after the target is scaled to zero, and follows a new one", func() {
		s := newStory().initialised()
		Expect(s.target.Replicas).To(BeZero())
		s.reconcile()
		Expect(s.status.Replicas).To(Equal(int32(3)))

		s.target.Replicas = 5
		s.reconcile()
		Expect(s.status.Replicas).To(Equal(int32(5)))
		Expect(s.primary.Replicas).To(Equal(int32(5)))
		Expect(reasons(s.events)).To(ContainElement(fledgev1alpha1.ReasonReplicasAdjusted))
	})
})

var _ = Describe("a new revision", func() {
	It("shifts traffic 20, 40, 60, 80, then promotes through 100 and returns to the primary", func() {
		s := newStory().initialised()
		s.newRevision("v2")
		s.reconcile()
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhaseProgressing))
		Expect(s.status.CanaryRevision).To(Equal("v2"))
		Expect(rollout.DesiredFor(&s.spec, &s.status, s.now).CanaryReplicas).To(Equal(int32(3)))

		s.until(fledgev1alpha1.PhaseSucceeded, 20)
		Expect(s.weights).To(Equal([]int32{0, 20, 40, 60, 80, 100, 0}))
		Expect(s.status.LastPromotedRevision).To(Equal("v2"))
		Expect(s.primary.Revision).To(Equal("v2"))
		Expect(s.canary.Replicas).To(Equal(int32(3)), "the canary keeps running while the sidecars take the routes back")
		Expect(s.last.Want.Routes.KeepCanarySubset).To(BeTrue(), "and so does its subset")
		ended := s.now
		s.wait()
		Expect(s.now).To(Equal(ended.Add(fledgev1alpha1.DefaultScaleDownDelaySeconds*time.Second)), "woken at the end of the scale-down delay")
		Expect(s.canary.Replicas).To(BeZero(), "the canary is scaled down after the scale-down delay")
		Expect(s.last.Want.Routes.KeepCanarySubset).To(BeFalse())
		Expect(s.last.RequeueAfter).To(BeZero(), "and nothing is left to do")
		Expect(s.checksRun).To(Equal(4), "one run of the checks per step")
		Expect(reasons(s.events)).To(Equal([]string{
			fledgev1alpha1.ReasonStarted,
			fledgev1alpha1.ReasonAdvanced, fledgev1alpha1.ReasonAdvanced, fledgev1alpha1.ReasonAdvanced, fledgev1alpha1.ReasonAdvanced,
			fledgev1alpha1.ReasonPromoting, fledgev1alpha1.ReasonPromoted,
		}))
		Expect(condition(s.status, fledgev1alpha1.ConditionPromoted).Status).To(Equal(metav1.ConditionTrue))
		Expect(condition(s.status, fledgev1alpha1.ConditionProgressing).Status).To(Equal(metav1.ConditionFalse))
	})

	It("takes one step per interval and sleeps exactly until the next one", func() {
		s := newStory().initialised()
		s.newRevision("v2")
		s.reconcile()
		s.reconcile() // the canary is ready: first step
		Expect(s.status.CanaryWeight).To(Equal(int32(20)))
		Expect(s.last.RequeueAfter).To(Equal(time.Minute))

		s.now = s.now.Add(25 * time.Second)
		s.reconcile() // an unrelated event wakes the canary early
		Expect(s.status.CanaryWeight).To(Equal(int32(20)))
		Expect(s.checksRun).To(BeZero(), "no checks before the interval has passed")
		Expect(s.last.RequeueAfter).To(Equal(35 * time.Second))

		s.wait()
		Expect(s.status.CanaryWeight).To(Equal(int32(40)))
		Expect(s.checksRun).To(Equal(1))
	})

	It("follows explicit stepWeights", func() {
		s := newStory()
		s.spec.Analysis.StepWeights = []int32{5, 50}
		s.initialised()
		s.newRevision("v2")
		s.reconcile()
		s.until(fledgev1alpha1.PhaseSucceeded, 10)
		Expect(s.weights).To(Equal([]int32{0, 5, 50, 100, 0}))
	})

	It("waits for the primary to carry the new revision before routing back to it", func() {
		s := newStory().initialised()
		s.newRevision("v2")
		s.reconcile()
		s.until(fledgev1alpha1.PhasePromoting, 10)
		s.holdPrimary = true
		s.primary.Ready = false
		s.reconcile()
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhasePromoting))
		Expect(rollout.DesiredFor(&s.spec, &s.status, s.now).Routes.CanaryWeight).To(Equal(int32(100)), "no request reaches the old version once promotion is decided")
		Expect(rollout.DesiredFor(&s.spec, &s.status, s.now).PrimaryRevision).To(Equal("v2"))

		s.holdPrimary = false
		s.primary.Ready = true
		s.reconcile()
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhaseSucceeded))
		Expect(rollout.DesiredFor(&s.spec, &s.status, s.now).Routes.PrimaryWeight).To(Equal(int32(100)))
	})

	It("promotes as soon as the canary is ready when skipAnalysis is set", func() {
		s := newStory()
		s.spec.SkipAnalysis = true
		s.initialised()
		s.newRevision("v2")
		s.reconcile()
		s.reconcile()
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhasePromoting))
		s.reconcile()
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhaseSucceeded))
		Expect(s.weights).To(Equal([]int32{0, 100, 0}))
		Expect(s.checksRun).To(BeZero())
	})

	It("aborts when the canary is not ready within the progress deadline", func() {
		s := newStory().initialised()
		s.holdCanary = true
		s.newRevision("v2")
		s.reconcile()
		Expect(s.last.RequeueAfter).To(Equal(600 * time.Second))
		s.wait()
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhaseFailed))
		Expect(s.status.Message).To(ContainSubstring("not ready within the progress deadline"))
		Expect(rollout.DesiredFor(&s.spec, &s.status, s.now.Add(s.spec.ScaleDownDelay())).CanaryReplicas).To(BeZero())
	})
})

var _ = Describe("a canary at 40 %", func() {
	var s *story
	BeforeEach(func() {
		s = newStory().initialised()
		s.newRevision("v2")
		s.reconcile()
		s.reconcile()
		s.wait()
		Expect(s.status.CanaryWeight).To(Equal(int32(40)))
		s.events = nil
	})

	It("halts on a failed check and goes on when the next one passes", func() {
		s.verdict = analysis.Result{Verdict: analysis.Fail, Message: "success rate 91% < 99%"}
		s.wait()
		Expect(s.status.CanaryWeight).To(Equal(int32(40)))
		Expect(s.status.FailedChecks).To(Equal(int32(1)))
		Expect(s.events).To(ContainElement(rollout.Event{Warning: true, Reason: fledgev1alpha1.ReasonHalted, Message: "check failed (1 of 3) at canary weight 40%: success rate 91% < 99%"}))

		s.verdict = analysis.Result{Verdict: analysis.Pass}
		s.wait()
		Expect(s.status.CanaryWeight).To(Equal(int32(60)))
		Expect(s.status.FailedChecks).To(Equal(int32(1)), "failed checks add up over the rollout")
	})

	It("aborts after the third failed check and sends all traffic back to the primary", func() {
		s.verdict = analysis.Result{Verdict: analysis.Fail, Message: "p99 812ms > 500ms"}
		s.wait()
		s.wait()
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhaseProgressing))
		s.wait()
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhaseFailed))
		Expect(s.status.FailedChecks).To(Equal(int32(3)))
		Expect(s.status.Message).To(Equal("aborted: 3 of 3 checks failed; last: p99 812ms > 500ms"))
		want := rollout.DesiredFor(&s.spec, &s.status, s.now)
		Expect([]int32{want.Routes.PrimaryWeight, want.Routes.CanaryWeight, want.CanaryReplicas}).To(Equal([]int32{100, 0, 3}), "all traffic back, the canary still running")
		want = rollout.DesiredFor(&s.spec, &s.status, s.now.Add(s.spec.ScaleDownDelay()))
		Expect([]int32{want.Routes.PrimaryWeight, want.Routes.CanaryWeight, want.CanaryReplicas}).To(Equal([]int32{100, 0, 0}), "and stopped after the delay")
		Expect(want.PrimaryRevision).To(Equal("v1"))
		Expect(condition(s.status, fledgev1alpha1.ConditionPromoted).Reason).To(Equal("Aborted"))
		Expect(reasons(s.events)).To(Equal([]string{fledgev1alpha1.ReasonHalted, fledgev1alpha1.ReasonHalted, fledgev1alpha1.ReasonAborted}))

		By("staying failed for the same revision")
		s.now = s.now.Add(time.Hour)
		s.reconcile()
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhaseFailed))

		By("starting afresh for the next revision")
		s.newRevision("v3")
		s.verdict = analysis.Result{Verdict: analysis.Pass}
		s.reconcile()
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhaseProgressing))
		Expect(s.status.CanaryRevision).To(Equal("v3"))
		Expect(s.status.FailedChecks).To(BeZero())
	})

	It("holds without a verdict while there is too little traffic, and fails at the deadline", func() {
		s.verdict = analysis.Result{Verdict: analysis.Wait, Message: "12 requests < 100 in the window"}
		s.wait()
		Expect(s.status.CanaryWeight).To(Equal(int32(40)))
		Expect(s.status.FailedChecks).To(BeZero())
		Expect(s.status.Message).To(ContainSubstring("12 requests < 100"))
		for range 8 {
			s.wait()
		}
		Expect(s.status.FailedChecks).To(BeZero(), "still within the deadline")
		s.wait()
		Expect(s.status.FailedChecks).To(Equal(int32(1)))
		Expect(s.status.Message).To(ContainSubstring("no verdict within the progress deadline"))
	})

	It("holds a step whose routes could not be written, and judges it a whole interval after they are", func() {
		s.failActs = `admission webhook "validation.istio.io" timed out`
		s.wait() // the step to 60 % is decided, and its routes are refused
		Expect(s.status.CanaryWeight).To(Equal(int32(60)))
		checks := s.checksRun
		for range 5 {
			s.wait()
		}
		Expect(s.status.CanaryWeight).To(Equal(int32(60)), "a step the traffic never reached is not left")
		Expect(s.checksRun).To(Equal(checks), "nor judged: its traffic is not the step's")
		Expect(s.status.FailedChecks).To(BeZero())
		Expect(condition(s.status, fledgev1alpha1.ConditionReady).Reason).To(Equal(fledgev1alpha1.ReasonApplyFailed))

		By("the routes going through")
		s.failActs = ""
		landed := s.now.Add(time.Second)
		s.now = landed
		s.reconcile()
		Expect(s.status.Message).To(Equal("step 3 of 4: canary weight 60%"))
		Expect(s.checksRun).To(Equal(checks), "the step is not judged on the traffic of before")
		Expect(condition(s.status, fledgev1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
		s.wait()
		Expect(s.now).To(Equal(landed.Add(time.Minute)), "judged one interval after the routes landed")
		Expect(s.checksRun).To(Equal(checks + 1))
		Expect(s.status.CanaryWeight).To(Equal(int32(80)))
	})

	It("counts a check as failed when the canary is not ready", func() {
		s.holdCanary = true
		s.canary.Ready = false
		s.wait()
		Expect(s.status.FailedChecks).To(Equal(int32(1)))
		Expect(s.status.Message).To(ContainSubstring("the canary is not ready"))
	})

	It("starts again from the first step when the target changes", func() {
		s.verdict = analysis.Result{Verdict: analysis.Fail, Message: "bad"}
		s.wait()
		s.newRevision("v3")
		s.reconcile()
		Expect(s.status.CanaryRevision).To(Equal("v3"))
		Expect(s.status.StepIndex).To(BeZero())
		Expect(s.status.CanaryWeight).To(BeZero())
		Expect(s.status.FailedChecks).To(BeZero())
		Expect(reasons(s.events)).To(ContainElement(fledgev1alpha1.ReasonRestarted))
		s.verdict = analysis.Result{Verdict: analysis.Pass}
		s.reconcile()
		Expect(s.status.CanaryWeight).To(Equal(int32(20)))
	})

	It("is cancelled when the target goes back to the promoted revision", func() {
		s.newRevision("v1")
		s.reconcile()
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhaseSucceeded))
		Expect(s.status.LastPromotedRevision).To(Equal("v1"))
		Expect(rollout.DesiredFor(&s.spec, &s.status, s.now.Add(s.spec.ScaleDownDelay())).CanaryReplicas).To(BeZero())
		Expect(reasons(s.events)).To(Equal([]string{fledgev1alpha1.ReasonCancelled}))
	})

	It("is promoted at once on request, skipping the remaining steps", func() {
		s.request("r1", fledgev1alpha1.RequestPromote)
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhasePromoting))
		Expect(s.status.LastHandledRequest.Accepted).To(BeTrue())
		s.reconcile()
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhaseSucceeded))
		Expect(s.weights).To(Equal([]int32{0, 20, 40, 100, 0}))
	})

	It("advances one step on request without waiting for the interval", func() {
		s.request("r1", fledgev1alpha1.RequestPromoteStep)
		Expect(s.status.CanaryWeight).To(Equal(int32(60)))
		Expect(s.checksRun).To(Equal(1), "no checks run for a manual step")
	})

	It("is aborted on request", func() {
		s.request("r1", fledgev1alpha1.RequestAbort)
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhaseFailed))
		Expect(s.status.Message).To(Equal("aborted: aborted on request by alice"))
		Expect(s.status.LastHandledRequest).To(HaveField("Accepted", BeTrue()))
	})

	It("holds its step while paused and goes on when resumed", func() {
		s.request("r1", fledgev1alpha1.RequestPause)
		Expect(s.status.Paused).To(BeTrue())
		s.now = s.now.Add(10 * time.Minute)
		s.reconcile()
		Expect(s.status.CanaryWeight).To(Equal(int32(40)))
		Expect(s.status.Message).To(HavePrefix("paused at step 2 of 4"))
		Expect(condition(s.status, fledgev1alpha1.ConditionProgressing).Reason).To(Equal("Paused"))

		s.request("r2", fledgev1alpha1.RequestResume)
		Expect(s.status.Paused).To(BeFalse())
		Expect(s.status.CanaryWeight).To(Equal(int32(60)), "the overdue step runs at once")
	})

	It("acts on a request once, however often it is seen", func() {
		s.request("r1", fledgev1alpha1.RequestPromoteStep)
		Expect(s.status.CanaryWeight).To(Equal(int32(60)))
		s.reconcile()
		s.reconcile()
		Expect(s.status.CanaryWeight).To(Equal(int32(60)))
	})

	It("does not move while suspended, and rejects requests", func() {
		s.spec.Suspend = true
		s.now = s.now.Add(time.Hour)
		s.request("r1", fledgev1alpha1.RequestPromote)
		Expect(s.status.CanaryWeight).To(Equal(int32(40)))
		Expect(s.status.LastHandledRequest).To(HaveField("Accepted", BeFalse()))
		Expect(s.status.LastHandledRequest.Message).To(ContainSubstring("suspended"))
	})
})

var _ = Describe("a failed rollout", func() {
	var s *story
	BeforeEach(func() {
		s = newStory().initialised()
		s.verdict = analysis.Result{Verdict: analysis.Fail, Message: "bad"}
		s.newRevision("v2")
		s.reconcile()
		s.until(fledgev1alpha1.PhaseFailed, 10)
		s.events = nil
	})

	It("starts again from the first step on a retry request", func() {
		s.verdict = analysis.Result{Verdict: analysis.Pass}
		s.request("r1", fledgev1alpha1.RequestRetry)
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhaseProgressing))
		Expect(s.status.CanaryRevision).To(Equal("v2"))
		Expect(s.status.FailedChecks).To(BeZero())
		s.until(fledgev1alpha1.PhaseSucceeded, 10)
		Expect(s.status.LastPromotedRevision).To(Equal("v2"))
	})

	It("rejects promote and abort requests, saying why", func() {
		s.request("r1", fledgev1alpha1.RequestPromote)
		Expect(s.status.LastHandledRequest).To(HaveField("Accepted", BeFalse()))
		Expect(s.status.LastHandledRequest.Message).To(ContainSubstring("no rollout is in progress"))
		s.request("r2", fledgev1alpha1.RequestAbort)
		Expect(s.status.LastHandledRequest).To(HaveField("Accepted", BeFalse()))
		Expect(s.events).To(HaveLen(2))
		Expect(s.events[0].Warning).To(BeTrue())
	})
})

var _ = Describe("an A/B test", func() {
	It("sends matching requests to the canary for each iteration, then promotes", func() {
		s := newStory()
		insider := "insider"
		s.spec.Analysis.Match = []fledgev1alpha1.HTTPMatch{{Headers: map[string]fledgev1alpha1.StringMatch{"x-canary": {Exact: &insider}}}}
		s.spec.Analysis.Iterations = ptr.To[int32](3)
		s.initialised()
		s.newRevision("v2")
		s.reconcile()
		s.reconcile()
		Expect(s.status.Iterations).To(Equal(int32(1)))
		Expect(s.status.Message).To(Equal("step 1 of 3: A/B: matching requests go to the canary"))

		s.until(fledgev1alpha1.PhaseSucceeded, 10)
		Expect(s.checksRun).To(Equal(3), "one check per iteration")
		Expect(s.weights).To(Equal([]int32{0, 100, 0}))
		ab := split(100, 0)
		ab.Match = s.spec.Analysis.Match
		Expect(s.routes).To(Equal([]rollout.Routes{split(100, 0), ab, split(0, 100), returned()}),
			"everyone else stays on the primary during A/B, and the A/B route is gone after promotion")
	})
})

var _ = Describe("a rollout that mirrors first", func() {
	It("copies traffic to the canary for each mirror iteration, then shifts weights", func() {
		s := newStory()
		s.spec.Analysis.Mirror = &fledgev1alpha1.Mirror{Percentage: 50}
		s.spec.Analysis.Iterations = ptr.To[int32](2)
		s.spec.Analysis.StepWeights = []int32{50}
		qa := "qa"
		s.spec.Analysis.Testers = []fledgev1alpha1.HTTPMatch{{Headers: map[string]fledgev1alpha1.StringMatch{"x-team": {Exact: &qa}}}}
		s.initialised()
		s.newRevision("v2")
		s.reconcile()
		s.reconcile()
		Expect(s.status.Message).To(Equal("step 1 of 3: mirror: 50% of live traffic is copied to the canary"))
		s.wait()
		Expect(s.status.Iterations).To(Equal(int32(2)))
		s.until(fledgev1alpha1.PhaseSucceeded, 10)

		mirror, half := split(100, 0), split(50, 50)
		mirror.MirrorPercentage, mirror.Testers, half.Testers = 50, s.spec.Analysis.Testers, s.spec.Analysis.Testers
		Expect(s.routes).To(Equal([]rollout.Routes{split(100, 0), mirror, half, split(0, 100), returned()}),
			"no route to a canary that is not ready; mirrored answers are discarded, so no live traffic during the mirror; "+
				"testers reach the canary whatever the weight, and their route goes with the rollout")
	})

	It("keeps users on the canary with a cookie during weighted steps only", func() {
		s := newStory()
		s.spec.Analysis.Mirror = &fledgev1alpha1.Mirror{Percentage: 100}
		s.spec.Analysis.Iterations = ptr.To[int32](1)
		s.spec.Analysis.StepWeights = []int32{50}
		s.spec.Analysis.SessionAffinity = &fledgev1alpha1.SessionAffinity{CookieName: "c"}
		s.initialised()
		s.newRevision("v2")
		s.reconcile()
		s.until(fledgev1alpha1.PhaseSucceeded, 10)

		mirror, sticky := split(100, 0), split(50, 50)
		mirror.MirrorPercentage = 100
		sticky.Sticky = &rollout.StickyCookie{Name: "c", Value: s.status.RolloutID, MaxAge: 24 * time.Hour}
		Expect(s.routes).To(Equal([]rollout.Routes{split(100, 0), mirror, sticky, split(0, 100), returned()}),
			"nobody lands on the canary while it only gets mirrored traffic; the cookie names this rollout, and goes on promotion")
	})
})

var _ = Describe("a Canary on existing subsets", func() {
	var s *story
	BeforeEach(func() {
		s = newStory()
		s.spec.Subsets = &fledgev1alpha1.ExistingSubsets{DestinationRule: "app", Stable: "v1", Candidate: "v2"}
		s.target = rollout.Workload{Exists: true, Revision: "v2-abc", Replicas: 2, Ready: true}
	})

	It("shifts the weights from stable to candidate and leaves all traffic on the candidate", func() {
		s.reconcile()
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhaseProgressing), "the candidate is rolled out as soon as the routes are in place")
		Expect(reasons(s.events)).To(Equal([]string{fledgev1alpha1.ReasonInitialized, fledgev1alpha1.ReasonStarted, fledgev1alpha1.ReasonAdvanced}))
		want := rollout.DesiredFor(&s.spec, &s.status, s.now)
		Expect(want.ScaleDownTarget).To(BeFalse())
		Expect(want.PrimaryRevision).To(BeEmpty(), "no copy of the user's Deployments")
		Expect(want.CanaryReplicas).To(BeZero())

		s.until(fledgev1alpha1.PhaseSucceeded, 10)
		Expect(s.weights).To(Equal([]int32{0, 20, 40, 60, 80, 100}))
		want = rollout.DesiredFor(&s.spec, &s.status, s.now)
		Expect([]int32{want.Routes.PrimaryWeight, want.Routes.CanaryWeight}).To(Equal([]int32{0, 100}))
		Expect(s.status.LastPromotedRevision).To(Equal("v2-abc"))
	})

	It("returns all traffic to the stable subset when the candidate fails", func() {
		s.verdict = analysis.Result{Verdict: analysis.Fail, Message: "bad"}
		s.reconcile()
		s.until(fledgev1alpha1.PhaseFailed, 10)
		want := rollout.DesiredFor(&s.spec, &s.status, s.now)
		Expect([]int32{want.Routes.PrimaryWeight, want.Routes.CanaryWeight}).To(Equal([]int32{100, 0}))
	})

	It("rolls out the next candidate once the user names new subsets", func() {
		s.reconcile()
		s.until(fledgev1alpha1.PhaseSucceeded, 10)
		s.spec.Subsets = &fledgev1alpha1.ExistingSubsets{DestinationRule: "app", Stable: "v2", Candidate: "v3"}
		s.target = rollout.Workload{Exists: true, Revision: "v3-def", Replicas: 2, Ready: true}
		s.reconcile()
		Expect(s.status.CanaryRevision).To(Equal("v3-def"))
		Expect(s.status.CanaryWeight).To(Equal(int32(20)))
	})
})

var _ = Describe("the step plan", func() {
	DescribeTable("is the list of canary weights",
		func(analysisSpec fledgev1alpha1.CanaryAnalysis, want []int32) {
			Expect(rollout.StepWeights(analysisSpec)).To(Equal(want))
		},
		Entry("by default", fledgev1alpha1.CanaryAnalysis{}, []int32{20, 40, 60, 80}),
		Entry("explicit stepWeights", fledgev1alpha1.CanaryAnalysis{StepWeights: []int32{1, 10, 50}}, []int32{1, 10, 50}),
		Entry("stepWeight that divides maxWeight", fledgev1alpha1.CanaryAnalysis{StepWeight: ptr.To[int32](25), MaxWeight: ptr.To[int32](100)}, []int32{25, 50, 75, 100}),
		Entry("stepWeight that does not divide maxWeight ends on maxWeight", fledgev1alpha1.CanaryAnalysis{StepWeight: ptr.To[int32](30), MaxWeight: ptr.To[int32](80)}, []int32{30, 60, 80}),
		Entry("only maxWeight", fledgev1alpha1.CanaryAnalysis{MaxWeight: ptr.To[int32](50)}, []int32{20, 40, 50}),
		Entry("stepWeight equal to maxWeight", fledgev1alpha1.CanaryAnalysis{StepWeight: ptr.To[int32](50), MaxWeight: ptr.To[int32](50)}, []int32{50}),
	)

	It("puts the fault-injection steps after the first traffic step, at its weight", func() {
		steps := rollout.Steps(fledgev1alpha1.CanaryAnalysis{
			StepWeights:    []int32{10, 50},
			FaultInjection: &fledgev1alpha1.FaultInjection{Dependency: "payments", Iterations: 2},
		})
		Expect(steps).To(Equal([]rollout.Step{{Weight: 10}, {Weight: 10, Fault: true}, {Weight: 10, Fault: true}, {Weight: 50}}))
	})

	It("mirrors before any traffic step", func() {
		steps := rollout.Steps(fledgev1alpha1.CanaryAnalysis{StepWeights: []int32{50}, Mirror: &fledgev1alpha1.Mirror{Percentage: 10}, Iterations: ptr.To[int32](2)})
		Expect(steps).To(Equal([]rollout.Step{{Mirror: true}, {Mirror: true}, {Weight: 50}}))
	})
})

// split is the routes of Fledge's own copies at a weight, with nothing else.
func split(primary, canary int32) rollout.Routes {
	return rollout.Routes{PrimarySubset: rollout.SubsetPrimary, CanarySubset: rollout.SubsetCanary, PrimaryWeight: primary, CanaryWeight: canary}
}

// returned is the routes of an ended rollout during its scale-down delay: all traffic to the
// primary, the canary's subset kept for the sidecars that do not have that yet.
func returned() rollout.Routes {
	r := split(100, 0)
	r.KeepCanarySubset = true
	return r
}
