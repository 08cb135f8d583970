package rollout

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// The history in status is the record of each rollout as data: `kubectl fledge history`, Slack
// and the controller's metrics read it, and it outlives the events.

// recordSuperseded closes the record of a rollout still running when another starts.
func (d *decider) recordSuperseded() {
	if last := d.running(); last != nil {
		now := metav1.NewTime(d.obs.Now)
		last.Result, last.EndTime, last.FailedChecks = fledgev1alpha1.ResultSuperseded, &now, d.status.FailedChecks
		last.Message = bounded("the target changed to revision " + d.obs.Target.Revision + " during the rollout")
	}
}

// recordStart opens the record of the rollout that starts.
func (d *decider) recordStart() {
	st := &d.status
	now := metav1.NewTime(d.obs.Now)
	st.History = append(st.History, fledgev1alpha1.RolloutRecord{
		ID: st.RolloutID, Revision: st.CanaryRevision, Result: fledgev1alpha1.ResultRunning, StartTime: now,
		StepsTotal: int32(len(Steps(d.obs.Spec.Analysis))),
	})
	if over := len(st.History) - fledgev1alpha1.MaxHistory; over > 0 {
		st.History = append(st.History[:0:0], st.History[over:]...)
	}
}

// recordStep notes the step the running rollout reached.
func (d *decider) recordStep() {
	if last := d.running(); last != nil {
		last.StepsReached = d.status.StepIndex
	}
}

// recordEndedBy notes who ended the running rollout with a request.
func (d *decider) recordEndedBy(who string) {
	if last := d.running(); last != nil {
		last.EndedBy = who
	}
}

// recordEnd closes the record of the running rollout.
func (d *decider) recordEnd(result fledgev1alpha1.RolloutResult, message string) {
	last := d.running()
	if last == nil {
		return
	}
	now := metav1.NewTime(d.obs.Now)
	last.Result, last.EndTime, last.Message = result, &now, bounded(message)
	last.FailedChecks = d.status.FailedChecks
}

// running is the record of the rollout in progress, if any.
func (d *decider) running() *fledgev1alpha1.RolloutRecord {
	h := d.status.History
	if n := len(h); n > 0 && h[n-1].Result == fledgev1alpha1.ResultRunning {
		return &h[n-1]
	}
	return nil
}

// bounded cuts a message to what a history record holds.
func bounded(s string) string { return fledgev1alpha1.Bound(s, fledgev1alpha1.MaxHistoryMessage) }
