package controllers

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"fledge.dev/fledge/analysis"
	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/rollout"
)

// checkRunner runs the checks of Canaries apart from the reconcile workers, a bounded number
// at a time (the workers), each within one interval: a metrics provider that hangs holds the
// workers its checks run on, and never a reconcile, so aborts, manual requests and deletions
// of every Canary go on. A verdict reaches the decision as an observation, on the reconcile of
// its Canary that the runner wakes once the verdict is in.
type checkRunner struct {
	checker analysis.Checker
	events  events.EventRecorder
	clock   clock.PassiveClock
	// slots bounds the checks that run at once.
	slots chan struct{}
	// wake enqueues a Canary whose verdict is in.
	wake chan event.GenericEvent

	mu sync.Mutex
	// base ends the checks when the manager stops (Background until it starts).
	base context.Context
	jobs map[types.NamespacedName]*checkJob
}

// checkJob is the checks of one Canary for one CheckRequest.
type checkJob struct {
	key     string
	started time.Time
	cancel  context.CancelFunc
	// result is nil while the checks run.
	result *analysis.Result
}

func newCheckRunner(checker analysis.Checker, recorder events.EventRecorder, workers int, c clock.PassiveClock) *checkRunner {
	return &checkRunner{
		checker: checker, events: recorder, clock: c,
		slots: make(chan struct{}, max(workers, 1)),
		// Buffered so that finishing checks seldom wait for the controller's queue.
		wake: make(chan event.GenericEvent, 1024),
		base: context.Background(),
		jobs: map[types.NamespacedName]*checkJob{},
	}
}

// Start runs with the manager (on the leader, as the controller does): the checks in flight
// end when it stops.
func (c *checkRunner) Start(ctx context.Context) error {
	c.mu.Lock()
	c.base = ctx
	c.mu.Unlock()
	<-ctx.Done()
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, j := range c.jobs {
		j.cancel()
		delete(c.jobs, name)
	}
	return nil
}

// verdict returns the verdict of the checks req asks of canary, and when they started, once
// it is in; until then it starts them (once per key) and returns nil. Checks for another key
// are cancelled: their step, due time or spec is over.
func (c *checkRunner) verdict(canary *fledgev1alpha1.Canary, w analysis.Workloads, req rollout.CheckRequest) (*analysis.Result, time.Time) {
	name := client.ObjectKeyFromObject(canary)
	c.mu.Lock()
	defer c.mu.Unlock()
	if j := c.jobs[name]; j != nil {
		if j.key == req.Key {
			return j.result, j.started
		}
		j.cancel()
	}
	ctx, cancel := context.WithCancel(c.base)
	j := &checkJob{key: req.Key, started: c.clock.Now(), cancel: cancel}
	c.jobs[name] = j
	go c.run(ctx, name, j, canary.DeepCopy(), w)
	return nil, time.Time{}
}

// drop cancels the checks of a Canary whose decision no longer asks for them (paused,
// suspended, a step taken on request): a verdict kept for later would be stale by then.
func (c *checkRunner) drop(name types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if j := c.jobs[name]; j != nil {
		j.cancel()
		delete(c.jobs, name)
	}
}

func (c *checkRunner) run(ctx context.Context, name types.NamespacedName, j *checkJob, canary *fledgev1alpha1.Canary, w analysis.Workloads) {
	defer j.cancel()
	interval := canary.Spec.Analysis.StepInterval()
	result := c.check(ctx, canary, w, interval)
	if ctx.Err() != nil {
		return // a newer request replaced this one, the Canary went away, or the manager stops
	}
	c.mu.Lock()
	if c.jobs[name] != j {
		c.mu.Unlock()
		return
	}
	j.result = &result
	base := c.base
	c.mu.Unlock()
	select {
	case c.wake <- event.GenericEvent{Object: canary}:
	case <-base.Done():
	}
}

// check waits for a worker, at most one interval, then gives the checks one interval.
func (c *checkRunner) check(ctx context.Context, canary *fledgev1alpha1.Canary, w analysis.Workloads, interval time.Duration) analysis.Result {
	queued := time.NewTimer(interval)
	defer queued.Stop()
	asked := time.Now()
	select {
	case c.slots <- struct{}{}:
		checkQueueWait.Observe(time.Since(asked).Seconds())
	case <-queued.C:
		checkQueueWait.Observe(time.Since(asked).Seconds())
		// Busy workers are no fault of this canary: no verdict, and the step holds.
		msg := fmt.Sprintf("the checks waited %s for one of the %d check workers, busy with other Canaries' checks: raise the manager's --check-workers", interval, cap(c.slots))
		return analysis.Result{Verdict: analysis.Wait, Message: msg, Problem: &analysis.Problem{Reason: fledgev1alpha1.ReasonChecksQueued, Message: msg}}
	case <-ctx.Done():
		return analysis.Result{}
	}
	// The checker's time ends a little before the interval, so that one which honours its
	// context has the time to say which metrics it measured and which it could not.
	checkCtx, cancel := context.WithTimeout(ctx, interval-checkerMargin(interval))
	defer cancel()
	done := make(chan analysis.Result, 1)
	go func() {
		// A checker that ignores its context keeps its worker until it returns; the verdict
		// does not wait for it.
		defer func() { <-c.slots }()
		done <- c.checker.Check(checkCtx, canary, w)
	}()
	started := time.Now()
	cutoff := time.NewTimer(interval)
	defer cutoff.Stop()
	select {
	case r := <-done:
		checkDuration.WithLabelValues(string(r.Verdict)).Observe(time.Since(started).Seconds())
		return r
	case <-ctx.Done():
		return analysis.Result{} // cancelled: nobody takes this verdict
	case <-cutoff.C:
		checkDuration.WithLabelValues("TimedOut").Observe(time.Since(started).Seconds())
		msg := fmt.Sprintf("the checks did not finish within %s (the interval): a metrics provider is slow or does not answer", interval)
		return analysis.Result{Verdict: analysis.Fail, Message: msg, Problem: &analysis.Problem{Reason: fledgev1alpha1.ReasonChecksTimedOut, Message: msg}}
	}
}

// checkerMargin is the part of an interval the checker leaves for reporting what it measured.
func checkerMargin(interval time.Duration) time.Duration {
	return min(interval/10, time.Second)
}

// preflight probes the metrics providers of a starting rollout in the background, on a free
// worker only (the checks come first), and tells the Canary's events when one does not answer.
func (c *checkRunner) preflight(ctx context.Context, canary *fledgev1alpha1.Canary) {
	select {
	case c.slots <- struct{}{}:
	default:
		log.FromContext(ctx).V(1).Info("no free check worker: the rollout starts without a preflight of its metrics providers")
		return
	}
	c.mu.Lock()
	base := c.base
	c.mu.Unlock()
	snapshot := canary.DeepCopy()
	go func() {
		defer func() { <-c.slots }()
		ctx, cancel := context.WithTimeout(base, snapshot.Spec.Analysis.StepInterval())
		defer cancel()
		if err := c.checker.Preflight(ctx, snapshot); err != nil && ctx.Err() == nil {
			c.events.Eventf(snapshot, nil, corev1.EventTypeWarning, fledgev1alpha1.ReasonMetricsUnavailable, "Rollout",
				"a metrics provider of this canary does not answer; its checks will fail until it does: %v", err)
		}
	}()
}
