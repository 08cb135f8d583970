package rollout

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// HoldsSlot reports whether a Canary in this phase runs a rollout, and so holds one of the
// slots the cap on simultaneous rollouts counts.
func HoldsSlot(phase fledgev1alpha1.CanaryPhase) bool {
	return phase == fledgev1alpha1.PhaseProgressing || phase == fledgev1alpha1.PhasePromoting
}

// WantsSlot reports whether the decision of obs may start a rollout, so that the reconciler
// asks for a slot (Observation.QueueFull) before it decides: a queued revision, a new
// revision of the target, or a retry. A Canary that runs a rollout has its slot.
func WantsSlot(obs *Observation) bool {
	st := &obs.Status
	switch {
	case HoldsSlot(st.Phase) || st.Phase == "" || st.Phase == fledgev1alpha1.PhaseInitializing:
		return false
	case obs.Spec.Suspend || !obs.Target.Exists:
		return false
	case st.Phase == fledgev1alpha1.PhaseQueued:
		return true
	case st.Request != nil && st.Request.Action == fledgev1alpha1.RequestRetry &&
		(st.LastHandledRequest == nil || st.LastHandledRequest.ID != st.Request.ID):
		return true
	case obs.Target.Revision == st.LastPromotedRevision:
		return false
	case st.Phase == fledgev1alpha1.PhaseFailed && obs.Target.Revision == st.CanaryRevision:
		return false
	}
	return true
}

// endedPhase is the phase whose traffic and copies hold: a queued revision changes nothing
// of what the last rollout left.
func endedPhase(st *fledgev1alpha1.CanaryStatus) fledgev1alpha1.CanaryPhase {
	if st.Phase == fledgev1alpha1.PhaseQueued && st.Queue != nil {
		return st.Queue.After
	}
	return st.Phase
}

// enqueue records that the target's revision waits for a slot; the reconciler wakes the
// Canary when one frees. Already queued, it keeps its place (and the phase it came from).
func (d *decider) enqueue() {
	st, revision := &d.status, d.obs.Target.Revision
	if st.Phase != fledgev1alpha1.PhaseQueued || st.Queue == nil {
		st.Queue = &fledgev1alpha1.QueueStatus{Since: metav1.NewTime(d.obs.Now), After: st.Phase}
		st.Phase = fledgev1alpha1.PhaseQueued
		st.LastTransitionTime = d.now()
		d.event(false, fledgev1alpha1.ReasonQueued, "revision %s waits for a rollout slot: %s", revision, d.obs.QueueFull)
	}
	if st.Queue.Revision != revision {
		st.Queue.Revision, st.Queue.Retry = revision, d.retrying
	}
	st.Message = "queued: " + d.obs.QueueFull
	// The reconciler wakes the Canary when a slot frees; this is in case that is missed.
	d.requeueAt(d.obs.Now.Add(queueRecheck))
}

// queueRecheck is how often a queued Canary looks for a slot without being woken.
const queueRecheck = time.Minute

// dequeue drops the queued revision when the target no longer carries one to roll out: the
// Canary is back where the last rollout left it.
func (d *decider) dequeue(why string) {
	st := &d.status
	d.event(false, fledgev1alpha1.ReasonDequeued, "revision %s no longer waits: %s", st.Queue.Revision, why)
	st.Phase, st.Queue = st.Queue.After, nil
	st.LastTransitionTime = d.now()
	st.Message = why
}
