package main

import (
	"bytes"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

func TestWeightBarIsPlainOffATerminal(t *testing.T) {
	for weight, want := range map[int32]string{
		0:   "primary 100% [##########]   0% canary",
		20:  "primary  80% [########--]  20% canary",
		100: "primary   0% [----------] 100% canary",
	} {
		if got := (style{}).weightBar(weight, 10); got != want {
			t.Errorf("weightBar(%d) = %q, want %q", weight, got, want)
		}
	}
}

func TestTableAlignsColouredCellsByWhatShows(t *testing.T) {
	coloured := style{terminal: true}
	tbl := &table{}
	tbl.add("NAME", "PHASE", "AGE")
	tbl.add("web", coloured.phase("Failed"), "5s")
	var out bytes.Buffer
	tbl.write(&out, "")
	want := "NAME  PHASE   AGE\nweb   \x1b[31mFailed\x1b[0m  5s\n"
	if out.String() != want {
		t.Errorf("table:\n%q\nwant\n%q", out.String(), want)
	}
}

func TestMetricRangeSaysWhatPasses(t *testing.T) {
	minimum, maximum, percent := 99.0, 500.0, 10.0
	cases := map[string]fledgev1alpha1.CanaryMetric{
		"≥ 99":                   {ThresholdRange: &fledgev1alpha1.ThresholdRange{Min: &minimum}},
		"99..500":                {ThresholdRange: &fledgev1alpha1.ThresholdRange{Min: &minimum, Max: &maximum}},
		"≤ 500, ≤ primary + 10%": {ThresholdRange: &fledgev1alpha1.ThresholdRange{Max: &maximum}, CompareToPrimary: &fledgev1alpha1.PrimaryComparison{MaxIncreasePercent: &percent}},
		"no significant increase vs primary (confidence 0.95, effect ≤ 0.1)": {CompareToPrimary: &fledgev1alpha1.PrimaryComparison{
			Statistical: &fledgev1alpha1.StatisticalComparison{Direction: "Increase", Confidence: 0.95, MaxEffectSize: 0.1}}},
	}
	for want, metric := range cases {
		if got := metricRange(&metric); got != want {
			t.Errorf("metricRange = %q, want %q", got, want)
		}
	}
}

func TestARolloutEndsOnlyAfterOneWasSeen(t *testing.T) {
	canary := func(phase fledgev1alpha1.CanaryPhase, id string) *fledgev1alpha1.Canary {
		return &fledgev1alpha1.Canary{Status: fledgev1alpha1.CanaryStatus{Phase: phase, RolloutID: id}}
	}
	tracker := newRolloutTracker(canary(fledgev1alpha1.PhaseSucceeded, "a"))
	if ended, _ := tracker.ended(canary(fledgev1alpha1.PhaseSucceeded, "a")); ended {
		t.Error("the last rollout, over before watching, counted as ending")
	}
	if ended, _ := tracker.ended(canary(fledgev1alpha1.PhaseFailed, "b")); !ended {
		t.Error("a rollout that started and failed between two looks did not count")
	}
	tracker = newRolloutTracker(canary(fledgev1alpha1.PhaseProgressing, "a"))
	if ended, phase := tracker.ended(canary(fledgev1alpha1.PhaseSucceeded, "a")); !ended || phase != fledgev1alpha1.PhaseSucceeded {
		t.Error("the running rollout's success did not count")
	}
}

func TestShortDurationDropsZeroUnits(t *testing.T) {
	for text, want := range map[string]string{"1h0m0s": "1h", "1m0s": "1m", "1m30s": "1m30s", "2h30m0s": "2h30m", "1s": "1s"} {
		d, _ := time.ParseDuration(text)
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%s) = %s, want %s", text, got, want)
		}
	}
}

func TestPlanLineTellsEachStepOfThePlan(t *testing.T) {
	three := int32(3)
	cases := map[string]fledgev1alpha1.CanaryAnalysis{
		"4 steps, one every 1m: 20%, 40%, 60%, 80%":   {},
		"3 steps, one every 1m: A/B ×3":               {Match: []fledgev1alpha1.HTTPMatch{{}}, Iterations: &three},
		"5 steps, one every 1m: mirror ×3, 50%, 100%": {Mirror: &fledgev1alpha1.Mirror{}, Iterations: &three, StepWeights: []int32{50, 100}},
		"2 steps, one every 1m: 10%, 100%":            {StepWeights: []int32{10, 100}},
	}
	for want, analysis := range cases {
		if got := planLine(fledgev1alpha1.CanarySpec{Analysis: analysis}); got != want {
			t.Errorf("planLine = %q, want %q", got, want)
		}
	}
}

func TestAQueuedRolloutSaysWhatWaitsAndWhy(t *testing.T) {
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	c := &fledgev1alpha1.Canary{}
	c.Name = "web"
	c.Status.Phase = fledgev1alpha1.PhaseQueued
	c.Status.Message = "queued: the cluster runs at most 10 rollouts at once (--max-concurrent-rollouts); the oldest queued start first as slots free"
	c.Status.Queue = &fledgev1alpha1.QueueStatus{Revision: "6f9c", Since: metav1.NewTime(now.Add(-90 * time.Second)), After: fledgev1alpha1.PhaseSucceeded}
	if got, want := (canaryView{canary: c, now: now}).phaseLine(), "Queued, revision 6f9c waits for a rollout slot (for 90s)"; got != want {
		t.Errorf("phase line = %q, want %q", got, want)
	}
	if got, want := progressLine(c), `Waiting for canary "web" rollout to finish: `+c.Status.Message+"..."; got != want {
		t.Errorf("progress line = %q, want %q", got, want)
	}
	if ended, _ := newRolloutTracker(c).ended(c); ended {
		t.Error("a queued rollout was taken for an ended one")
	}
}
