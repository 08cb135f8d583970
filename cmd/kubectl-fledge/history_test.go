package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

var t0 = time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)

// at is t0 plus d, as the status keeps times.
func at(d time.Duration) metav1.Time { return metav1.NewTime(t0.Add(d)) }

// record is a rollout of the history that started at t0+start and, unless end is zero
// (still running), ended at t0+end.
func record(revision string, result fledgev1alpha1.RolloutResult, start, end time.Duration, reached, total int32, message string) fledgev1alpha1.RolloutRecord {
	r := fledgev1alpha1.RolloutRecord{
		ID: revision + "-1", Revision: revision, Result: result, StartTime: at(start),
		StepsReached: reached, StepsTotal: total, Message: message,
	}
	if end != 0 {
		r.EndTime = ptr(at(end))
	}
	return r
}

func TestHistoryTellsTheRolloutsOfTheStatus(t *testing.T) {
	now := t0.Add(time.Hour)
	abortedByAlice := record("dddddddddddd", fledgev1alpha1.ResultFailed, 30*time.Minute, 33*time.Minute, 2, 4, "aborted on request")
	abortedByAlice.EndedBy = "alice"
	promotedByBob := record("eeeeeeeeeeee", fledgev1alpha1.ResultSucceeded, 40*time.Minute, 41*time.Minute, 1, 4, "")
	promotedByBob.EndedBy = "bob"

	cases := []struct {
		name       string
		canary     fledgev1alpha1.Canary
		wantOut    []string
		wantErrOut string
	}{{
		name: "several rollouts, oldest first",
		canary: fledgev1alpha1.Canary{Status: fledgev1alpha1.CanaryStatus{History: []fledgev1alpha1.RolloutRecord{
			record("aaaaaaaaaaaa", fledgev1alpha1.ResultSucceeded, time.Minute, 3*time.Minute, 5, 5, "every step passed"),
			record("bbbbbbbbbbbb", fledgev1alpha1.ResultSuperseded, 10*time.Minute, 11*time.Minute, 1, 5, "the target changed to revision cccccccccccc during the rollout"),
			record("cccccccccccc", fledgev1alpha1.ResultFailed, 11*time.Minute, 14*time.Minute+30*time.Second, 2, 5, "3 of 3 checks failed; last: errors"),
			record("aaaaaaaaaaaa", fledgev1alpha1.ResultCancelled, 20*time.Minute, 21*time.Minute, 0, 5, "the target went back to the promoted revision"),
		}}},
		wantOut: []string{
			"REVISION      RESULT      STARTED  TOOK   STEPS  BY  WHY",
			"aaaaaaaaaaaa  Succeeded   59m ago  2m     5/5    -   every step passed",
			"bbbbbbbbbbbb  Superseded  50m ago  60s    1/5    -   the target changed to revision cccccccccccc during the rollout",
			"cccccccccccc  Failed      49m ago  3m30s  2/5    -   3 of 3 checks failed; last: errors",
			"aaaaaaaaaaaa  Cancelled   40m ago  60s    0/5    -   the target went back to the promoted revision",
		},
	}, {
		name: "a running rollout has not taken its time yet",
		canary: fledgev1alpha1.Canary{Status: fledgev1alpha1.CanaryStatus{History: []fledgev1alpha1.RolloutRecord{
			record("aaaaaaaaaaaa", fledgev1alpha1.ResultSucceeded, time.Minute, 3*time.Minute, 4, 4, "every step passed"),
			record("bbbbbbbbbbbb", fledgev1alpha1.ResultRunning, 55*time.Minute, 0, 1, 4, "step 1 of 4: canary weight 20%"),
		}}},
		wantOut: []string{
			"REVISION      RESULT     STARTED  TOOK  STEPS  BY  WHY",
			"aaaaaaaaaaaa  Succeeded  59m ago  2m    4/4    -   every step passed",
			"bbbbbbbbbbbb  Running    5m ago   -     1/4    -   step 1 of 4: canary weight 20%",
		},
	}, {
		name: "who ended a rollout by request",
		canary: fledgev1alpha1.Canary{Status: fledgev1alpha1.CanaryStatus{History: []fledgev1alpha1.RolloutRecord{
			abortedByAlice, promotedByBob,
			record("ffffffffffff", fledgev1alpha1.ResultSucceeded, 50*time.Minute, 52*time.Minute, 0, 0, ""),
		}}},
		wantOut: []string{
			"REVISION      RESULT     STARTED  TOOK  STEPS  BY     WHY",
			"dddddddddddd  Failed     30m ago  3m    2/4    alice  aborted on request",
			"eeeeeeeeeeee  Succeeded  20m ago  60s   1/4    bob    -",
			"ffffffffffff  Succeeded  10m ago  2m    -      -      -",
		},
	}, {
		name: "an older controller's status tells only the last rollout",
		canary: fledgev1alpha1.Canary{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Status: fledgev1alpha1.CanaryStatus{
			Phase: fledgev1alpha1.PhaseFailed, CanaryRevision: "cccccccccccc", Message: "3 of 3 checks failed; last: errors",
			RolloutID: "cccccccccccc-1", RolloutStartTime: ptr(at(10 * time.Minute)),
			LastTransitionTime: &metav1.MicroTime{Time: t0.Add(15 * time.Minute)},
		}},
		wantOut: []string{
			"REVISION      RESULT  STARTED  TOOK  STEPS  BY  WHY",
			"cccccccccccc  Failed  50m ago  5m    -      -   3 of 3 checks failed; last: errors",
		},
		wantErrOut: "canary web has no history in its status (an older Fledge wrote it): only its last rollout shows, from the status.\n",
	}, {
		name: "an older controller's status with a rollout running",
		canary: fledgev1alpha1.Canary{
			ObjectMeta: metav1.ObjectMeta{Name: "web"},
			Spec:       fledgev1alpha1.CanarySpec{Analysis: fledgev1alpha1.CanaryAnalysis{StepWeights: []int32{20, 40, 60, 80}}},
			Status: fledgev1alpha1.CanaryStatus{
				Phase: fledgev1alpha1.PhaseProgressing, CanaryRevision: "cccccccccccc", Message: "step 2 of 4: canary weight 40%",
				RolloutID: "cccccccccccc-1", RolloutStartTime: ptr(at(50 * time.Minute)), StepIndex: 2,
				LastTransitionTime: &metav1.MicroTime{Time: t0.Add(55 * time.Minute)},
			},
		},
		wantOut: []string{
			"REVISION      RESULT   STARTED  TOOK  STEPS  BY  WHY",
			"cccccccccccc  Running  10m ago  -     2/4    -   step 2 of 4: canary weight 40%",
		},
		wantErrOut: "canary web has no history in its status (an older Fledge wrote it): only its last rollout shows, from the status.\n",
	}, {
		name: "no rollout on record",
		canary: fledgev1alpha1.Canary{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Status: fledgev1alpha1.CanaryStatus{
			Phase: fledgev1alpha1.PhaseInitialized, Message: "the primary is ready and serves all traffic",
		}},
		wantErrOut: "canary web has no rollout on record.\n",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			printHistory(&out, &errOut, style{}, &tc.canary, now)
			var got []string
			if out.Len() > 0 {
				got = strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			}
			if diff := cmp.Diff(tc.wantOut, got); diff != "" {
				t.Errorf("table (-want +got):\n%s", diff)
			}
			if errOut.String() != tc.wantErrOut {
				t.Errorf("stderr = %q, want %q", errOut.String(), tc.wantErrOut)
			}
		})
	}
}

func TestHistoryColoursTheResults(t *testing.T) {
	coloured := style{terminal: true}
	for result, want := range map[fledgev1alpha1.RolloutResult]string{
		fledgev1alpha1.ResultRunning:    "\x1b[33mRunning\x1b[0m",
		fledgev1alpha1.ResultSucceeded:  "\x1b[32mSucceeded\x1b[0m",
		fledgev1alpha1.ResultFailed:     "\x1b[31mFailed\x1b[0m",
		fledgev1alpha1.ResultCancelled:  "Cancelled",
		fledgev1alpha1.ResultSuperseded: "Superseded",
	} {
		if got := coloured.result(result); got != want {
			t.Errorf("result(%s) = %q, want %q", result, got, want)
		}
		if got := (style{}).result(result); got != string(result) {
			t.Errorf("result(%s) off a terminal = %q, want it plain", result, got)
		}
	}
}
