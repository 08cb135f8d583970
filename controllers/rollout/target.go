package rollout

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// targetGone holds a Canary whose target Deployment does not exist (deleted, or misnamed): a
// step in progress gives its traffic back to the primary, and the rollout takes its first
// step again once the target is back with the same revision. A promotion under way goes on
// serving from the canary, which passed every step, and ends once the target is back.
func (d *decider) targetGone() {
	st := &d.status
	msg := fmt.Sprintf("Deployment %s (spec.targetRef) does not exist: create it or fix the name", d.obs.Spec.TargetRef.Name)
	if st.Phase == fledgev1alpha1.PhaseProgressing && (st.StepIndex > 0 || st.CanaryWeight > 0) {
		st.StepIndex, st.CanaryWeight = 0, 0
		st.LastTransitionTime = d.now()
		d.event(true, fledgev1alpha1.ReasonTargetNotFound, "the target Deployment is gone: all traffic is back on the primary; the rollout starts again from its first step once it is back")
	}
	// An abort, a pause or a resume still apply; what needs the target's revision does not.
	if req := d.pendingRequest(); req != nil {
		switch req.Action {
		case fledgev1alpha1.RequestAbort, fledgev1alpha1.RequestPause, fledgev1alpha1.RequestResume:
			d.handleRequest()
		default:
			d.rejectRequest("the target Deployment does not exist")
		}
	}
	if st.Phase == fledgev1alpha1.PhasePromoting {
		d.promoting() // ends once the primary carries the revision, which needs no target
	}
	// Said last, so that the message stays the same from one look to the next.
	if st.Phase == fledgev1alpha1.PhaseProgressing {
		msg += "; all traffic is on the primary until it is back"
	}
	st.Message = msg
	d.notReady = &metav1.Condition{Type: fledgev1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: fledgev1alpha1.ReasonTargetNotFound, Message: fledgev1alpha1.Bound(msg, fledgev1alpha1.MaxMessage)}
}

// targetBack clears what targetGone said once the target exists again.
func (d *decider) targetBack() {
	if c := meta.FindStatusCondition(d.status.Conditions, fledgev1alpha1.ConditionReady); c != nil && c.Reason == fledgev1alpha1.ReasonTargetNotFound {
		d.status.Message = "the target Deployment is back"
		if d.status.Phase == fledgev1alpha1.PhaseProgressing && d.status.StepIndex == 0 {
			// The wait for the canary counts from now, not from when the target went.
			d.status.LastTransitionTime = d.now()
		}
	}
}
