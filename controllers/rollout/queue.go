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

// WantsSlot reports whether the decision of obs would start a rollout, so that the reconciler
// asks for a slot (Observation.QueueFull) before it decides. It asks the decision itself, told
// that no slot is free, so that what may start a rollout (a new revision, a queued one, a
// retry) is said in one place: a rollout that runs keeps its slot, and is never queued.
func WantsSlot(obs *Observation) bool {
	probe := *obs
	probe.QueueFull = "(probe)"
	probe.Checks = nil
	return Decide(probe).Status.Phase == fledgev1alpha1.PhaseQueued
}

// endedPhase is the phase whose traffic and copies hold: a queued revision changes nothing
// of what the last rollout left.
func endedPhase(st *fledgev1alpha1.CanaryStatus) fledgev1alpha1.CanaryPhase {
	switch {
	case queued(st):
		return st.Queue.After
	case st.Phase == fledgev1alpha1.PhaseQueued:
		return fledgev1alpha1.PhaseSucceeded // a queue without its record: the primary serves
	}
	return st.Phase
}

// queued reports whether a revision waits for a slot.
func queued(st *fledgev1alpha1.CanaryStatus) bool {
	return st.Phase == fledgev1alpha1.PhaseQueued && st.Queue != nil
}

// queuedRetry reports whether the revision that waits is a retry of the rollout that failed:
// only a retry queues the failed revision itself.
func queuedRetry(st *fledgev1alpha1.CanaryStatus, revision string) bool {
	return queued(st) && st.Queue.Revision == revision && st.Queue.After == fledgev1alpha1.PhaseFailed && revision == st.CanaryRevision
}

// enqueue records that the target's revision waits for a slot; the reconciler wakes the
// Canary when one frees. Already queued, it keeps its place (and the phase it came from).
func (d *decider) enqueue() {
	st, revision := &d.status, d.obs.Target.Revision
	if !queued(st) {
		st.Queue = &fledgev1alpha1.QueueStatus{Since: metav1.NewTime(d.obs.Now), After: endedPhase(st)}
		st.Phase = fledgev1alpha1.PhaseQueued
		st.LastTransitionTime = d.now()
		d.event(false, fledgev1alpha1.ReasonQueued, "revision %s waits for a rollout slot: %s", revision, d.obs.QueueFull)
	}
	st.Queue.Revision = revision
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
	if !queued(st) {
		return
	}
	d.event(false, fledgev1alpha1.ReasonDequeued, "revision %s no longer waits: %s", st.Queue.Revision, why)
	st.Phase, st.Queue = st.Queue.After, nil
	st.LastTransitionTime = d.now()
	st.Message = why
}
