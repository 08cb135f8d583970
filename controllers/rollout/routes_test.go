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

// The routes of every step come whole from the decision, every default applied.
var _ = Describe("the routes of a rollout", func() {
	It("inject the faults at the first weight for the fault steps only", func() {
		s := newStory()
		s.spec.Analysis.StepWeights = []int32{10, 50}
		faults := &fledgev1alpha1.FaultInjection{Dependency: "payments", Iterations: 2}
		s.spec.Analysis.FaultInjection = faults
		s.initialised()
		s.newRevision("v2")
		s.reconcile()
		s.until(fledgev1alpha1.PhaseSucceeded, 20)
		faulty := split(90, 10)
		faulty.Faults = faults
		Expect(s.routes).To(Equal([]rollout.Routes{split(100, 0), split(90, 10), faulty, split(50, 50), split(0, 100), returned()}))
	})

	It("take the session cookie's name and age and the mirror's share from the defaults", func() {
		s := newStory()
		s.spec.Analysis.Mirror = &fledgev1alpha1.Mirror{}
		s.spec.Analysis.StepWeights = []int32{50}
		s.spec.Analysis.SessionAffinity = &fledgev1alpha1.SessionAffinity{}
		s.initialised()
		s.newRevision("v2")
		s.reconcile()
		s.reconcile()
		Expect(s.last.Want.Routes.MirrorPercentage).To(Equal(int32(fledgev1alpha1.DefaultMirrorPercentage)))
		s.wait()
		Expect(s.last.Want.Routes.Sticky).To(Equal(&rollout.StickyCookie{
			Name: fledgev1alpha1.DefaultSessionCookie, Value: s.status.RolloutID, MaxAge: fledgev1alpha1.DefaultSessionMaxAge,
		}))
	})

	It("keep a sticky cookie's own age", func() {
		s := newStory()
		s.spec.Analysis.SessionAffinity = &fledgev1alpha1.SessionAffinity{CookieName: "c", MaxAge: &metav1.Duration{Duration: time.Hour}}
		s.initialised()
		s.newRevision("v2")
		s.reconcile()
		s.reconcile()
		Expect(s.last.Want.Routes.Sticky).To(Equal(&rollout.StickyCookie{Name: "c", Value: s.status.RolloutID, MaxAge: time.Hour}))
	})

	It("on existing subsets name the user's subsets, and say they are the user's", func() {
		s := newStory()
		s.spec.Subsets = &fledgev1alpha1.ExistingSubsets{DestinationRule: "app", Stable: "v1", Candidate: "v2"}
		s.target = rollout.Workload{Exists: true, Revision: "v2-abc", Replicas: 2, Ready: true}
		s.reconcile()
		s.until(fledgev1alpha1.PhaseSucceeded, 10)
		at := func(p, c int32) rollout.Routes {
			return rollout.Routes{PrimarySubset: "v1", CanarySubset: "v2", UserSubsets: true, PrimaryWeight: p, CanaryWeight: c}
		}
		Expect(s.routes).To(Equal([]rollout.Routes{at(80, 20), at(60, 40), at(40, 60), at(20, 80), at(0, 100)}))
	})
})

var _ = Describe("the settled routes of a deleted Canary", func() {
	DescribeTable("send everything to the version last promoted",
		func(subsets bool, phase fledgev1alpha1.CanaryPhase, weight int32, wantCanary int32) {
			spec := fledgev1alpha1.CanarySpec{Analysis: fledgev1alpha1.CanaryAnalysis{Testers: []fledgev1alpha1.HTTPMatch{{}}}}
			if subsets {
				spec.Subsets = &fledgev1alpha1.ExistingSubsets{DestinationRule: "app", Stable: "v1", Candidate: "v2"}
			}
			st := fledgev1alpha1.CanaryStatus{Phase: phase, CanaryWeight: weight, StepIndex: 2}
			got := rollout.Settled(&spec, &st)
			Expect([]int32{got.PrimaryWeight, got.CanaryWeight}).To(Equal([]int32{100 - wantCanary, wantCanary}))
			Expect(got.UsesCanary()).To(Equal(wantCanary > 0), "no tester, match or mirror route survives the Canary")
		},
		Entry("copies, mid-rollout", false, fledgev1alpha1.PhaseProgressing, int32(40), int32(0)),
		Entry("copies, promoting", false, fledgev1alpha1.PhasePromoting, int32(100), int32(0)),
		Entry("copies, promoted", false, fledgev1alpha1.PhaseSucceeded, int32(0), int32(0)),
		Entry("copies, never initialised", false, fledgev1alpha1.CanaryPhase(""), int32(0), int32(0)),
		Entry("subsets, mid-rollout", true, fledgev1alpha1.PhaseProgressing, int32(40), int32(0)),
		Entry("subsets, promoting", true, fledgev1alpha1.PhasePromoting, int32(100), int32(0)),
		Entry("subsets, promoted: the candidate keeps the traffic", true, fledgev1alpha1.PhaseSucceeded, int32(100), int32(100)),
		Entry("subsets, aborted", true, fledgev1alpha1.PhaseFailed, int32(0), int32(0)),
	)

	It("are the routes a finished rollout leaves once its canary is gone", func() {
		s := newStory().initialised()
		s.newRevision("v2")
		s.reconcile()
		s.verdict = analysis.Result{Verdict: analysis.Fail, Message: "bad"}
		s.until(fledgev1alpha1.PhaseFailed, 20)
		s.wait() // the scale-down delay
		Expect(rollout.Settled(&s.spec, &s.status)).To(Equal(s.last.Want.Routes))
	})
})

var _ = Describe("a spec built without admission", func() {
	It("takes the documented defaults", func() {
		s := newStory()
		s.spec.Analysis = fledgev1alpha1.CanaryAnalysis{}
		s.spec.ProgressDeadlineSeconds = nil
		s.initialised()
		s.newRevision("v2")
		s.reconcile()
		s.reconcile()
		Expect(s.last.RequeueAfter).To(Equal(fledgev1alpha1.DefaultInterval))
		s.verdict = analysis.Result{Verdict: analysis.Fail, Message: "bad"}
		s.until(fledgev1alpha1.PhaseFailed, 20)
		Expect(s.status.FailedChecks).To(Equal(int32(fledgev1alpha1.DefaultThreshold)))
		Expect(s.spec.ProgressDeadline()).To(Equal(time.Duration(fledgev1alpha1.DefaultProgressDeadlineSeconds) * time.Second))
		Expect(ptr.Deref(s.spec.Analysis.Iterations, 0)).To(BeZero())
	})
})
