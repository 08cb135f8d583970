package rollout

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// handleRequest acts once on each manual request an operator wrote into status.request, and
// records the outcome in status.lastHandledRequest.
func (d *decider) handleRequest() {
	req := d.pendingRequest()
	if req == nil {
		return
	}
	st := &d.status
	accept := func(format string, args ...any) { d.recordRequest(req, true, fmt.Sprintf(format, args...)) }
	reject := func(format string, args ...any) { d.recordRequest(req, false, fmt.Sprintf(format, args...)) }
	by := ""
	if req.RequestedBy != "" {
		by = " by " + req.RequestedBy
	}

	switch req.Action {
	case fledgev1alpha1.RequestPause:
		st.Paused = true
		accept("paused%s", by)
	case fledgev1alpha1.RequestResume:
		if !st.Paused {
			reject("the rollout is not paused")
			return
		}
		st.Paused = false
		accept("resumed%s", by)
	case fledgev1alpha1.RequestAbort:
		switch st.Phase {
		case fledgev1alpha1.PhaseProgressing:
			accept("aborted%s", by)
			d.recordEndedBy(req.RequestedBy)
			d.abort("aborted on request%s", by)
		case fledgev1alpha1.PhasePromoting:
			reject("the promotion is under way: the canary already serves all traffic and the primary is taking its revision")
		default:
			reject("no rollout is in progress")
		}
	case fledgev1alpha1.RequestPromote:
		if reason := d.canaryNotPromotable(); reason != "" {
			reject("%s", reason)
			return
		}
		accept("promoting%s", by)
		d.recordEndedBy(req.RequestedBy)
		d.enterPromoting("promoted on request" + by)
	case fledgev1alpha1.RequestPromoteStep:
		if reason := d.canaryNotPromotable(); reason != "" {
			reject("%s", reason)
			return
		}
		accept("advancing one step%s", by)
		d.advance()
	case fledgev1alpha1.RequestRetry:
		if st.Phase != fledgev1alpha1.PhaseFailed {
			reject("only a failed rollout can be retried (the phase is %s)", st.Phase)
			return
		}
		if d.obs.Target.Revision == st.LastPromotedRevision {
			reject("the target carries the promoted revision: there is nothing to retry")
			return
		}
		accept("retrying revision %s%s", d.obs.Target.Revision, by)
		d.start(fledgev1alpha1.ReasonStarted, "retry%s: starting the canary of revision %s again", by, d.obs.Target.Revision)
	default:
		reject("unknown action %q", req.Action)
	}
}

// canaryNotPromotable says why the canary cannot be promoted or advanced now ("" if it can).
func (d *decider) canaryNotPromotable() string {
	st, canary := &d.status, d.obs.Canary
	switch {
	case st.Phase != fledgev1alpha1.PhaseProgressing:
		return "no rollout is in progress (the phase is " + string(st.Phase) + ")"
	case d.obs.Target.Revision != st.CanaryRevision:
		return "the target changed: the rollout starts again with the new revision"
	case !d.ready(canary, st.CanaryRevision):
		return "the canary is not ready yet: " + orUnknown(canary.Progress)
	}
	return ""
}

func (d *decider) pendingRequest() *fledgev1alpha1.ManualRequest {
	req := d.status.Request
	if req == nil || (d.status.LastHandledRequest != nil && d.status.LastHandledRequest.ID == req.ID) {
		return nil
	}
	return req
}

// rejectRequest turns down a pending request when the canary cannot act on any.
func (d *decider) rejectRequest(why string) {
	if req := d.pendingRequest(); req != nil {
		d.recordRequest(req, false, why)
	}
}

func (d *decider) recordRequest(req *fledgev1alpha1.ManualRequest, accepted bool, message string) {
	d.status.LastHandledRequest = &fledgev1alpha1.HandledRequest{
		ID:        req.ID,
		Action:    req.Action,
		Accepted:  accepted,
		Message:   message,
		HandledAt: metav1.NewTime(d.obs.Now),
	}
	if accepted {
		d.event(false, fledgev1alpha1.ReasonRequestAccepted, "%s request accepted: %s", req.Action, message)
	} else {
		d.event(true, fledgev1alpha1.ReasonRequestRejected, "%s request rejected: %s", req.Action, message)
	}
}
