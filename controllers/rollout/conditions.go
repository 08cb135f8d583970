package rollout

import (
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// setConditions derives the Ready and Progressing conditions from the phase (Ready from
// notReady when set: a problem the phase does not show), so that
// `kubectl wait --for=condition=...` works. Promoted is set at the transitions themselves.
func setConditions(st *fledgev1alpha1.CanaryStatus, now time.Time, generation int64, notReady *metav1.Condition) {
	ready := metav1.Condition{Type: fledgev1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "PrimaryServing", Message: "the routes are in place and the primary is ready"}
	progressing := metav1.Condition{Type: fledgev1alpha1.ConditionProgressing, Status: metav1.ConditionFalse, Reason: "Idle", Message: "no rollout is in progress"}
	switch st.Phase {
	case fledgev1alpha1.PhaseInitializing:
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, "Initializing", st.Message
	case fledgev1alpha1.PhaseQueued:
		progressing.Reason, progressing.Message = "Queued", st.Message
	case fledgev1alpha1.PhaseProgressing:
		progressing.Status, progressing.Reason, progressing.Message = metav1.ConditionTrue, "Analysing", st.Message
		if st.Paused {
			progressing.Reason = "Paused"
		}
	case fledgev1alpha1.PhasePromoting:
		progressing.Status, progressing.Reason, progressing.Message = metav1.ConditionTrue, "Promoting", st.Message
	case fledgev1alpha1.PhaseSucceeded:
		progressing.Reason, progressing.Message = "Succeeded", st.Message
	case fledgev1alpha1.PhaseFailed:
		progressing.Reason, progressing.Message = "Aborted", st.Message
	}
	if notReady != nil {
		ready = *notReady
	}
	for _, c := range []metav1.Condition{ready, progressing} {
		c.ObservedGeneration = generation
		c.LastTransitionTime = metav1.NewTime(now)
		setCondition(st, c)
	}
}

// setCondition sets c, keeping the transition time when the status did not change.
func setCondition(st *fledgev1alpha1.CanaryStatus, c metav1.Condition) {
	meta.SetStatusCondition(&st.Conditions, c)
}
