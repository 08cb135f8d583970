package controllers

import (
	"context"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"

	"fledge.dev/fledge/analysis"
	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/rollout"
)

// blockingChecker answers each Canary's checks when told to, and never on its own when
// hang is set (a metrics provider that accepts and never answers).
type blockingChecker struct {
	mu      sync.Mutex
	calls   map[string]int
	release chan struct{}
	hang    bool
}

func (b *blockingChecker) Check(ctx context.Context, canary *fledgev1alpha1.Canary, _ analysis.Workloads) analysis.Result {
	b.mu.Lock()
	b.calls[canary.Name]++
	b.mu.Unlock()
	if b.hang {
		select {} // ignores its context, as a careless checker would
	}
	select {
	case <-b.release:
		return analysis.Result{Verdict: analysis.Pass, Message: "passed " + canary.Name}
	case <-ctx.Done():
		return analysis.Result{Verdict: analysis.Fail, Message: ctx.Err().Error()}
	}
}

func (b *blockingChecker) Preflight(context.Context, *fledgev1alpha1.Canary) error { return nil }

func (b *blockingChecker) callsOf(name string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls[name]
}

func canaryNamed(name string, interval time.Duration) *fledgev1alpha1.Canary {
	return &fledgev1alpha1.Canary{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name},
		Spec:       fledgev1alpha1.CanarySpec{Analysis: fledgev1alpha1.CanaryAnalysis{Interval: &metav1.Duration{Duration: interval}}},
	}
}

func waitWake(t *testing.T, r *checkRunner, name string) {
	t.Helper()
	select {
	case e := <-r.wake:
		if e.Object.GetName() != name {
			t.Fatalf("woke %s, want %s", e.Object.GetName(), name)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s was never woken", name)
	}
}

func recorder() events.EventRecorder { return events.NewFakeRecorder(10) }

func TestACheckRunsOnceAndItsVerdictWakesTheCanary(t *testing.T) {
	checker := &blockingChecker{calls: map[string]int{}, release: make(chan struct{})}
	r := newCheckRunner(checker, recorder(), 2, clock.RealClock{})
	web := canaryNamed("web", time.Minute)
	req := rollout.CheckRequest{Key: "step-1"}
	if v, _ := r.verdict(web, analysis.Workloads{}, req); v != nil {
		t.Fatal("a verdict before the checks ran")
	}
	if v, _ := r.verdict(web, analysis.Workloads{}, req); v != nil {
		t.Fatal("a verdict before the checks ran")
	}
	close(checker.release)
	waitWake(t, r, "web")
	got, started := r.verdict(web, analysis.Workloads{}, req)
	if got == nil || got.Verdict != analysis.Pass || started.IsZero() {
		t.Fatalf("verdict = %+v", got)
	}
	if n := checker.callsOf("web"); n != 1 {
		t.Fatalf("the checks ran %d times for one request", n)
	}
	if v, _ := r.verdict(web, analysis.Workloads{}, rollout.CheckRequest{Key: "step-2"}); v != nil {
		t.Fatal("the verdict of another step was taken for this one")
	}
	waitWake(t, r, "web")
	if n := checker.callsOf("web"); n != 2 {
		t.Fatalf("the next step's checks ran %d times in all, want 2", n)
	}
}

func TestAHangingProviderHoldsNoOtherCanaryAndTimesOutAtTheInterval(t *testing.T) {
	checker := &blockingChecker{calls: map[string]int{}, hang: true}
	r := newCheckRunner(checker, recorder(), 1, clock.RealClock{})
	stuck := canaryNamed("stuck", 200*time.Millisecond)
	other := canaryNamed("other", time.Minute)

	start := time.Now()
	if v, _ := r.verdict(stuck, analysis.Workloads{}, rollout.CheckRequest{Key: "a"}); v != nil {
		t.Fatal("a verdict from a provider that never answers")
	}
	for checker.callsOf("stuck") == 0 {
		time.Sleep(10 * time.Millisecond) // until stuck holds the only worker
	}
	// Asking for another Canary's checks returns at once, though every worker is taken.
	if v, _ := r.verdict(other, analysis.Workloads{}, rollout.CheckRequest{Key: "a"}); v != nil {
		t.Fatal("a verdict before the checks ran")
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Fatalf("asking for checks waited %s on a hanging provider", elapsed)
	}
	waitWake(t, r, "stuck")
	got, _ := r.verdict(stuck, analysis.Workloads{}, rollout.CheckRequest{Key: "a"})
	if got == nil || got.Verdict != analysis.Fail || got.Problem == nil || got.Problem.Reason != fledgev1alpha1.ReasonChecksTimedOut {
		t.Fatalf("verdict of a hanging provider = %+v, want a failed check that says it timed out", got)
	}
}

func TestAVerdictCutShortByTheIntervalKeepsWhatTheCheckerMeasured(t *testing.T) {
	// Without a release the checker answers only when its context ends, with what it has.
	checker := &blockingChecker{calls: map[string]int{}}
	r := newCheckRunner(checker, recorder(), 1, clock.RealClock{})
	slow := canaryNamed("slow", 500*time.Millisecond)
	r.verdict(slow, analysis.Workloads{}, rollout.CheckRequest{Key: "a"})
	waitWake(t, r, "slow")
	got, _ := r.verdict(slow, analysis.Workloads{}, rollout.CheckRequest{Key: "a"})
	if got == nil || got.Message != context.DeadlineExceeded.Error() {
		t.Fatalf("verdict = %+v, want the checker's own answer at its deadline, within the interval", got)
	}
}

func TestADroppedCanaryIsNotWoken(t *testing.T) {
	checker := &blockingChecker{calls: map[string]int{}, release: make(chan struct{})}
	r := newCheckRunner(checker, recorder(), 1, clock.RealClock{})
	web := canaryNamed("web", time.Minute)
	r.verdict(web, analysis.Workloads{}, rollout.CheckRequest{Key: "a"})
	r.drop(types.NamespacedName{Namespace: web.Namespace, Name: web.Name})
	close(checker.release)
	select {
	case e := <-r.wake:
		t.Fatalf("woke %s after it was dropped", e.Object.GetName())
	case <-time.After(500 * time.Millisecond):
	}
}

func TestChecksThatFindNoFreeWorkerWithinTheIntervalWaitRatherThanFail(t *testing.T) {
	checker := &blockingChecker{calls: map[string]int{}, release: make(chan struct{})}
	r := newCheckRunner(checker, recorder(), 1, clock.RealClock{})
	busy := canaryNamed("busy", time.Minute)
	queued := canaryNamed("queued", 200*time.Millisecond)
	r.verdict(busy, analysis.Workloads{}, rollout.CheckRequest{Key: "a"})
	for checker.callsOf("busy") == 0 {
		time.Sleep(10 * time.Millisecond) // until busy holds the only worker
	}
	r.verdict(queued, analysis.Workloads{}, rollout.CheckRequest{Key: "a"})
	waitWake(t, r, "queued")
	got, _ := r.verdict(queued, analysis.Workloads{}, rollout.CheckRequest{Key: "a"})
	if got == nil || got.Verdict != analysis.Wait || got.Problem == nil || got.Problem.Reason != fledgev1alpha1.ReasonChecksQueued {
		t.Fatalf("verdict of checks that found no worker = %+v, want a wait that says why", got)
	}
	if checker.callsOf("queued") != 0 {
		t.Fatal("the queued checks ran without a worker")
	}
	close(checker.release)
}

func TestTheChecksOfAStoppedManagerEnd(t *testing.T) {
	checker := &blockingChecker{calls: map[string]int{}, release: make(chan struct{})}
	r := newCheckRunner(checker, recorder(), 1, clock.RealClock{})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Start(ctx) }()
	for {
		r.mu.Lock()
		started := r.base == ctx
		r.mu.Unlock()
		if started {
			break
		}
		time.Sleep(time.Millisecond)
	}
	r.verdict(canaryNamed("web", time.Hour), analysis.Workloads{}, rollout.CheckRequest{Key: "a"})
	for checker.callsOf("web") == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	select {
	case r.slots <- struct{}{}: // the checker saw its context end and gave its worker back
	case <-time.After(30 * time.Second):
		t.Fatal("the checks went on after the manager stopped")
	}
}
