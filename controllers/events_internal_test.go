package controllers

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/rollout"
)

func TestRecordedEventsAreNumberedAcrossDecisionsAndBounded(t *testing.T) {
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	st := &fledgev1alpha1.CanaryStatus{}
	recordEvents(st, nil, now, 0)
	if st.Events != nil {
		t.Fatal("a decision without events recorded some: a no-op reconcile would write")
	}
	recordEvents(st, []rollout.Event{{Reason: "RolloutStarted"}, {Reason: "Advanced"}}, now, 0)
	recordEvents(st, []rollout.Event{{Reason: "Halted", Warning: true, Message: strings.Repeat("x", 5000)}}, now.Add(time.Minute), 2)
	e := st.Events
	if e.Seq != 3 || len(e.Last) != 1 || e.Last[0].Seq != 3 || e.Last[0].Type != "Warning" || !e.Time.Equal(&metav1.Time{Time: now.Add(time.Minute)}) {
		t.Fatalf("the second decision's events: %+v", e)
	}
	if len(e.Last[0].Message) > fledgev1alpha1.MaxEventMessage {
		t.Errorf("an event note of %d bytes", len(e.Last[0].Message))
	}
	many := make([]rollout.Event, 20)
	recordEvents(st, many, now, 3)
	if len(st.Events.Last) != fledgev1alpha1.MaxRecordedEvents || st.Events.Seq != 23 || st.Events.Last[0].Seq != 16 {
		t.Errorf("twenty events: kept %d, seq %d, first %d", len(st.Events.Last), st.Events.Seq, st.Events.Last[0].Seq)
	}
}

// Events that could not be created stay recorded with the next decision's, to be tried again.
func TestRecordedEventsKeepThoseNotCreatedYet(t *testing.T) {
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	st := &fledgev1alpha1.CanaryStatus{}
	recordEvents(st, []rollout.Event{{Reason: "Advanced"}, {Reason: "Halted"}}, now, 0)
	recordEvents(st, []rollout.Event{{Reason: "Aborted"}}, now, 1) // only the first was created
	var seqs []int64
	for _, e := range st.Events.Last {
		seqs = append(seqs, e.Seq)
	}
	if len(seqs) != 2 || seqs[0] != 2 || seqs[1] != 3 {
		t.Errorf("recorded %v, want the one not created (2) and the new one (3)", seqs)
	}
}

func TestEventNamesAreValidAndOnePerCanaryAndSequence(t *testing.T) {
	a := &fledgev1alpha1.Canary{ObjectMeta: metav1.ObjectMeta{Name: "web", UID: "0f6e2c1a-aaaa-bbbb"}}
	b := &fledgev1alpha1.Canary{ObjectMeta: metav1.ObjectMeta{Name: "web", UID: "77777777-aaaa-bbbb"}}
	if eventName(a, 1) == eventName(b, 1) || eventName(a, 1) == eventName(a, 2) {
		t.Error("two events share a name: one would be refused as a duplicate")
	}
	long := &fledgev1alpha1.Canary{ObjectMeta: metav1.ObjectMeta{Name: strings.Repeat("a", 199) + "-" + strings.Repeat("b", 53), UID: "0f6e2c1a"}}
	if errs := validation.IsDNS1123Subdomain(eventName(long, 12)); len(errs) > 0 {
		t.Errorf("the event name of a Canary with a long name: %v", errs)
	}
}
