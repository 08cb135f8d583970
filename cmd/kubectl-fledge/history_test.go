package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

var t0 = time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)

func event(at time.Duration, reason, message string) corev1.Event {
	return corev1.Event{Reason: reason, Message: message, EventTime: metav1.NewMicroTime(t0.Add(at))}
}

func TestHistoryFollowsTheEventsOfEachRollout(t *testing.T) {
	events := []corev1.Event{
		event(0, "Initialized", "the primary is ready and serves all traffic"),
		event(time.Minute, "RolloutStarted", "new revision aaaaaaaaaaaa: starting the canary"),
		event(2*time.Minute, "Promoting", "every step passed: all traffic goes to the canary while the primary takes revision aaaaaaaaaaaa"),
		event(3*time.Minute, "Promoted", "revision aaaaaaaaaaaa was promoted; the primary serves all traffic"),
		event(10*time.Minute, "RolloutStarted", "new revision bbbbbbbbbbbb: starting the canary"),
		event(11*time.Minute, "RolloutRestarted", "the target changed during the rollout: starting again from the first step with revision cccccccccccc"),
		event(12*time.Minute, "Aborted", "rollout of revision cccccccccccc aborted, all traffic back to the primary: 3 of 3 checks failed; last: errors"),
		event(20*time.Minute, "RolloutStarted", "retry by alice: starting the canary of revision cccccccccccc again"),
	}
	canary := &fledgev1alpha1.Canary{Status: fledgev1alpha1.CanaryStatus{
		Phase: fledgev1alpha1.PhaseProgressing, CanaryRevision: "cccccccccccc", Message: "step 1 of 4: canary weight 20%",
		RolloutID: "cccccccccccc-1", RolloutStartTime: &metav1.Time{Time: t0.Add(20 * time.Minute)},
	}}

	got := rolloutHistory(canary, events)
	want := []rolloutRecord{
		{Revision: "aaaaaaaaaaaa", Result: "Succeeded", Started: t0.Add(time.Minute), Ended: t0.Add(3 * time.Minute), Why: "every step passed"},
		{Revision: "bbbbbbbbbbbb", Result: "Superseded", Started: t0.Add(10 * time.Minute), Ended: t0.Add(11 * time.Minute), Why: "the target changed to revision cccccccccccc during the rollout"},
		{Revision: "cccccccccccc", Result: "Failed", Started: t0.Add(11 * time.Minute), Ended: t0.Add(12 * time.Minute), Why: "3 of 3 checks failed; last: errors"},
		{Revision: "cccccccccccc", Result: "Running", Started: t0.Add(20 * time.Minute), Why: "step 1 of 4: canary weight 20%"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}

func TestHistoryFallsBackOnTheStatusWhenTheEventsExpired(t *testing.T) {
	canary := &fledgev1alpha1.Canary{Status: fledgev1alpha1.CanaryStatus{
		Phase: fledgev1alpha1.PhaseSucceeded, CanaryRevision: "dddddddddddd", Message: "revision dddddddddddd was promoted",
		RolloutID: "dddddddddddd-1", RolloutStartTime: &metav1.Time{Time: t0},
		LastTransitionTime: &metav1.MicroTime{Time: t0.Add(5 * time.Minute)},
	}}
	got := rolloutHistory(canary, nil)
	want := []rolloutRecord{{Revision: "dddddddddddd", Result: "Succeeded", Started: t0, Ended: t0.Add(5 * time.Minute), Why: "revision dddddddddddd was promoted"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}

func TestHistoryKeepsAnEndWhoseStartExpired(t *testing.T) {
	events := []corev1.Event{event(0, "Promoted", "revision eeeeeeeeeeee was promoted; the primary serves all traffic")}
	got := rolloutHistory(&fledgev1alpha1.Canary{}, events)
	want := []rolloutRecord{{Revision: "eeeeeeeeeeee", Result: "Succeeded", Ended: t0, Why: "promoted"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}
