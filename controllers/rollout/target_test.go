package rollout_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/rollout"
)

var _ = Describe("a target deleted mid-rollout", func() {
	It("gives the canary's traffic back to the primary, says so, and starts again once the target is back", func() {
		s := newStory().initialised()
		s.newRevision("v2")
		s.reconcile()
		s.wait()
		s.wait()
		Expect(s.status.CanaryWeight).To(Equal(int32(40)))

		target := s.target
		s.target = rollout.Workload{}
		s.reconcile()
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhaseProgressing))
		Expect(s.last.Want.Routes).To(Equal(split(100, 0)), "all traffic on the primary")
		Expect(s.status.Message).To(ContainSubstring("does not exist"))
		ready := condition(s.status, fledgev1alpha1.ConditionReady)
		Expect(ready.Status).To(Equal(metav1.ConditionFalse))
		Expect(ready.Reason).To(Equal(fledgev1alpha1.ReasonTargetNotFound))
		Expect(reasons(s.last.Events)).To(Equal([]string{fledgev1alpha1.ReasonTargetNotFound}))
		s.reconcile() // nothing more happens while it is gone (the harness checks a second look changes nothing)

		s.target = target
		s.reconcile()
		Expect(s.status.CanaryWeight).To(Equal(int32(20)), "the first step again")
		Expect(condition(s.status, fledgev1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
		s.until(fledgev1alpha1.PhaseSucceeded, 20)
	})

	It("still takes an abort while the target is gone, and refuses a promotion", func() {
		s := newStory().initialised()
		s.newRevision("v2")
		s.reconcile()
		s.reconcile()
		s.target = rollout.Workload{}
		s.reconcile()
		Expect(s.request("p", fledgev1alpha1.RequestPromote).Status.LastHandledRequest.Accepted).To(BeFalse())
		s.request("a", fledgev1alpha1.RequestAbort)
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhaseFailed))
		Expect(s.status.LastHandledRequest.Accepted).To(BeTrue())
	})

	It("lets a promotion under way end once the primary carries the revision", func() {
		s := newStory().initialised()
		s.newRevision("v2")
		s.reconcile()
		s.until(fledgev1alpha1.PhasePromoting, 20)
		s.target = rollout.Workload{}
		s.holdPrimary = true
		s.primary.Ready = false
		s.reconcile()
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhasePromoting))
		s.holdPrimary = false
		s.primary = rollout.Workload{Exists: true, Revision: "v2", Replicas: s.status.Replicas, Ready: true}
		s.reconcile()
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhaseSucceeded))
	})

	It("gives the canary its whole progress deadline once the target is back", func() {
		s := newStory().initialised()
		s.newRevision("v2")
		s.reconcile()
		s.reconcile()
		target := s.target
		s.target = rollout.Workload{}
		s.reconcile()
		s.now = s.now.Add(time.Hour) // longer than the progress deadline
		s.reconcile()
		s.target = target
		s.holdCanary = true
		s.canary.Ready = false
		s.reconcile()
		Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhaseProgressing), "not aborted for the time the target was gone")
	})

	It("is not found for a Canary whose target never existed, and nothing is routed", func() {
		s := newStory()
		s.target = rollout.Workload{}
		s.reconcile()
		Expect(s.last.Want.RoutesEnabled).To(BeFalse())
		Expect(condition(s.status, fledgev1alpha1.ConditionReady).Reason).To(Equal(fledgev1alpha1.ReasonTargetNotFound))
	})

	It("at rest leaves the routes alone and says the target is gone", func() {
		s := newStory().initialised()
		s.target = rollout.Workload{}
		s.reconcile()
		Expect(s.last.Want.Routes).To(Equal(split(100, 0)))
		Expect(condition(s.status, fledgev1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionFalse))
	})
})
