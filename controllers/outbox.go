package controllers

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/alerts"
	"fledge.dev/fledge/controllers/rollout"
)

// queueNotifications writes the decision's events into the outbox of st, so that they are
// recorded in the same status write as the transitions. Entries every provider already has
// are dropped at the same time. Delivery happens elsewhere (alerts.Dispatcher), never here.
func queueNotifications(canary *fledgev1alpha1.Canary, st *fledgev1alpha1.CanaryStatus, evs []rollout.Event, now time.Time, defaultProvider string) {
	if len(evs) == 0 {
		return
	}
	providers := alerts.ProvidersOf(canary, defaultProvider)
	if len(providers) == 0 {
		return
	}
	n := st.Notifications
	if n == nil {
		n = &fledgev1alpha1.NotificationsStatus{NextSeq: 1}
	} else {
		n = n.DeepCopy()
	}
	steps := int32(len(rollout.Steps(canary.Spec.Analysis)))
	for _, e := range evs {
		if !fledgev1alpha1.IsRolloutTransition(e.Reason, st.Phase) {
			continue
		}
		n.Outbox = append(n.Outbox, fledgev1alpha1.OutboxEntry{
			Seq: n.NextSeq, RolloutID: st.RolloutID, Kind: e.Reason, Message: e.Message, Time: metav1.NewTime(now),
			Phase: st.Phase, Weight: st.CanaryWeight, Step: st.StepIndex, Steps: steps,
			FailedChecks: st.FailedChecks, Threshold: canary.Spec.Analysis.FailureThreshold(), Revision: st.CanaryRevision,
		})
		n.NextSeq++
	}
	delivered := alerts.DeliveredToAll(n, providers)
	kept := n.Outbox[:0]
	for _, entry := range n.Outbox {
		if entry.Seq > delivered {
			kept = append(kept, entry)
		}
	}
	// A provider that stays out of reach must not grow the status without bound; what it
	// misses is counted, not silently gone.
	if over := len(kept) - alerts.MaxOutbox; over > 0 {
		kept = kept[over:]
		n.Dropped += int64(over)
	}
	n.Outbox = kept
	st.Notifications = n
}
