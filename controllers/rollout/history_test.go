package rollout_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"fledge.dev/fledge/analysis"
	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// The history in status is the record of each rollout, kept as data rather than read back
// from events.
var _ = Describe("the history of a Canary", func() {
	var s *story
	BeforeEach(func() { s = newStory().initialised() })

	results := func() []fledgev1alpha1.RolloutResult {
		var out []fledgev1alpha1.RolloutResult
		for _, r := range s.status.History {
			out = append(out, r.Result)
		}
		return out
	}

	It("records a promoted rollout: its revision, its steps, when it started and ended", func() {
		s.newRevision("v2")
		start := s.now
		s.reconcile()
		Expect(s.status.History).To(HaveLen(1))
		Expect(s.status.History[0]).To(Equal(fledgev1alpha1.RolloutRecord{
			ID: s.status.RolloutID, Revision: "v2", Result: fledgev1alpha1.ResultRunning,
			StartTime: metav1.NewTime(start), StepsTotal: 4,
		}))
		s.until(fledgev1alpha1.PhaseSucceeded, 20)
		r := s.status.History[0]
		Expect(r.Result).To(Equal(fledgev1alpha1.ResultSucceeded))
		Expect(r.StepsReached).To(Equal(int32(4)))
		Expect(r.EndTime.Time).To(Equal(s.now))
		Expect(r.Message).To(Equal("revision v2 was promoted; the primary serves all traffic"))
	})

	It("records a rollout replaced mid-way as superseded, and the next as running", func() {
		s.newRevision("v2")
		s.reconcile()
		s.reconcile()
		s.verdict = analysis.Result{Verdict: analysis.Fail, Message: "errors"}
		s.wait()
		s.newRevision("v3")
		s.reconcile()
		Expect(results()).To(Equal([]fledgev1alpha1.RolloutResult{fledgev1alpha1.ResultSuperseded, fledgev1alpha1.ResultRunning}))
		Expect(s.status.History[0].StepsReached).To(Equal(int32(1)))
		Expect(s.status.History[0].FailedChecks).To(Equal(int32(1)), "the checks it failed before it was replaced")
		Expect(s.status.History[0].Message).To(Equal("the target changed to revision v3 during the rollout"))
		Expect(s.status.History[1].Revision).To(Equal("v3"))
	})

	It("records who aborted a rollout, and why checks failed one", func() {
		s.newRevision("v2")
		s.reconcile()
		s.reconcile()
		s.request("a", fledgev1alpha1.RequestAbort)
		Expect(s.status.History[0].Result).To(Equal(fledgev1alpha1.ResultFailed))
		Expect(s.status.History[0].EndedBy).To(Equal("alice"))

		s.request("b", fledgev1alpha1.RequestRetry)
		s.verdict = analysis.Result{Verdict: analysis.Fail, Message: "success rate 91% < 99%"}
		s.until(fledgev1alpha1.PhaseFailed, 20)
		r := s.status.History[1]
		Expect(r.Result).To(Equal(fledgev1alpha1.ResultFailed))
		Expect(r.FailedChecks).To(Equal(int32(3)))
		Expect(r.EndedBy).To(BeEmpty())
		Expect(r.Message).To(ContainSubstring("success rate 91% < 99%"))
	})

	It("records who promoted a rollout, though the promotion ends in a later reconcile", func() {
		s.newRevision("v2")
		s.reconcile()
		s.reconcile()
		s.holdPrimary = true
		s.request("p", fledgev1alpha1.RequestPromote)
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhasePromoting))
		s.holdPrimary = false
		s.primary.Ready = true
		s.reconcile()
		Expect(s.status.History[0].Result).To(Equal(fledgev1alpha1.ResultSucceeded))
		Expect(s.status.History[0].EndedBy).To(Equal("alice"))
	})

	It("records a cancelled rollout", func() {
		s.newRevision("v2")
		s.reconcile()
		s.newRevision("v1")
		s.reconcile()
		Expect(results()).To(Equal([]fledgev1alpha1.RolloutResult{fledgev1alpha1.ResultCancelled}))
	})

	It("keeps the last rollouts only, and bounds what a record says", func() {
		s.verdict = analysis.Result{Verdict: analysis.Fail, Message: strings.Repeat("é", 2000)}
		for i := range fledgev1alpha1.MaxHistory + 3 {
			s.newRevision(string(rune('a' + i)))
			s.reconcile()
		}
		Expect(s.status.History).To(HaveLen(fledgev1alpha1.MaxHistory))
		Expect(s.status.History[fledgev1alpha1.MaxHistory-1].Revision).To(Equal(string(rune('a' + fledgev1alpha1.MaxHistory + 2))))
		s.until(fledgev1alpha1.PhaseFailed, 20)
		msg := s.status.History[fledgev1alpha1.MaxHistory-1].Message
		Expect(len(msg)).To(BeNumerically("<=", fledgev1alpha1.MaxHistoryMessage))
		Expect(strings.ToValidUTF8(msg, "?")).To(Equal(msg), "cut on a character boundary")
	})
})
