package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/alerts"
	"fledge.dev/fledge/controllers/rollout"
)

// A provider out of reach for long fills the outbox: it keeps the newest notifications, drops
// the oldest, and counts them in status; a provider that catches up empties it again.
func TestAFullOutboxCountsWhatItDrops(t *testing.T) {
	canary := &fledgev1alpha1.Canary{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"}}
	st := &fledgev1alpha1.CanaryStatus{Phase: fledgev1alpha1.PhaseProgressing, RolloutID: "r1"}
	advanced := []rollout.Event{{Reason: fledgev1alpha1.ReasonAdvanced, Message: "step"}}
	for range alerts.MaxOutbox + 7 {
		queueNotifications(canary, st, advanced, time.Unix(0, 0), "fledge-system/slack")
	}
	n := st.Notifications
	if len(n.Outbox) != alerts.MaxOutbox || n.Dropped != 7 {
		t.Fatalf("outbox of %d entries, %d dropped; want %d and 7", len(n.Outbox), n.Dropped, alerts.MaxOutbox)
	}
	if first, last := n.Outbox[0].Seq, n.Outbox[len(n.Outbox)-1].Seq; first != 8 || last != int64(alerts.MaxOutbox+7) {
		t.Errorf("outbox holds seq %d to %d, want the newest: 8 to %d", first, last, alerts.MaxOutbox+7)
	}

	n.Providers = []fledgev1alpha1.ProviderDelivery{{Provider: "fledge-system/slack", Seq: n.NextSeq - 1}}
	queueNotifications(canary, st, advanced, time.Unix(0, 0), "fledge-system/slack")
	if n := st.Notifications; len(n.Outbox) != 1 || n.Dropped != 7 {
		t.Errorf("after the provider caught up: outbox of %d, %d dropped; want 1 and still 7", len(n.Outbox), n.Dropped)
	}
}
