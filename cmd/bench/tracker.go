package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// history is what the bench saw of one Canary through its watch.
type history struct {
	phase     fledgev1alpha1.CanaryPhase
	message   string
	stepIndex int32
	// lastCheck is the latest status.lastCheckTime: the next step is due one interval later.
	lastCheck time.Time

	// Recorded during the rollout only.
	maxStep     int32
	firstStepAt time.Time
	doneAt      time.Time
	updates     int // Canary updates seen
	halts       int // checks that ran without moving the step on
}

// stepSample is the lateness of one traffic step that had a due time: steps 2.. of the plan,
// and the promotion (step = len(plan)+1).
type stepSample struct {
	step     int32
	lateness time.Duration
}

// tracker follows every Canary of the bench through an informer, so that each status the
// manager writes is seen (a watch delivers updates in order; only a relist can merge two, and
// those are counted as missed).
type tracker struct {
	interval time.Duration
	steps    int32

	mu          sync.Mutex
	canaries    map[types.NamespacedName]*history
	armed       bool
	triggeredAt time.Time
	samples     []stepSample
	visible     []time.Duration // from a step's decision until the watch shows it
	missed      int             // steps whose status was never seen on its own
}

func newTracker(interval time.Duration, steps int) *tracker {
	return &tracker{interval: interval, steps: int32(steps), canaries: map[types.NamespacedName]*history{}}
}

// expect names the Canaries to follow; the waits are over exactly these.
func (t *tracker) expect(keys []types.NamespacedName) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range keys {
		t.canaries[k] = &history{}
	}
}

// arm starts recording steps: the rollouts start now.
func (t *tracker) arm(at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.armed, t.triggeredAt = true, at
}

func (t *tracker) watch(ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme) error {
	c, err := cache.New(cfg, cache.Options{Scheme: scheme, DefaultTransform: cache.TransformStripManagedFields()})
	if err != nil {
		return fmt.Errorf("create the bench's Canary cache: %w", err)
	}
	informer, err := c.GetInformer(ctx, &fledgev1alpha1.Canary{})
	if err != nil {
		return fmt.Errorf("watch Canaries: %w", err)
	}
	_, err = informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { t.observe(obj) },
		UpdateFunc: func(_, obj any) { t.observe(obj) },
	})
	if err != nil {
		return fmt.Errorf("watch Canaries: %w", err)
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return fmt.Errorf("the bench's Canary watch did not sync: %w", ctx.Err())
	}
	return nil
}

func (t *tracker) observe(obj any) {
	canary, ok := obj.(*fledgev1alpha1.Canary)
	if !ok {
		return
	}
	seen := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.canaries[types.NamespacedName{Namespace: canary.Namespace, Name: canary.Name}]
	if h == nil {
		return
	}
	st := &canary.Status
	if t.armed {
		t.record(h, st, seen)
	}
	h.phase, h.message, h.stepIndex = st.Phase, st.Message, st.StepIndex
	h.lastCheck = time.Time{}
	if st.LastCheckTime != nil {
		h.lastCheck = st.LastCheckTime.Time
	}
}

// record compares a new status with the last one seen and samples the step it took, if any.
func (t *tracker) record(h *history, st *fledgev1alpha1.CanaryStatus, seen time.Time) {
	h.updates++
	progressing := fledgev1alpha1.PhaseProgressing
	switch {
	case st.Phase == progressing && st.StepIndex > h.stepIndex && st.LastCheckTime != nil:
		at := st.LastCheckTime.Time
		t.visible = append(t.visible, seen.Sub(at))
		h.maxStep = max(h.maxStep, st.StepIndex)
		switch {
		case st.StepIndex == 1:
			h.firstStepAt = at // no due time: it follows the canary's readiness
		case st.StepIndex == h.stepIndex+1 && h.phase == progressing && !h.lastCheck.IsZero():
			t.samples = append(t.samples, stepSample{step: st.StepIndex, lateness: at.Sub(h.lastCheck.Add(t.interval))})
		default:
			t.missed++
		}
	case st.Phase == fledgev1alpha1.PhasePromoting && h.phase == progressing:
		// Promotion is the step after the last one, due one interval after it; Fledge stamps
		// it in lastTransitionTime only.
		if h.stepIndex == t.steps && !h.lastCheck.IsZero() && st.LastTransitionTime != nil {
			at := st.LastTransitionTime.Time
			t.visible = append(t.visible, seen.Sub(at))
			t.samples = append(t.samples, stepSample{step: t.steps + 1, lateness: at.Sub(h.lastCheck.Add(t.interval))})
		} else {
			t.missed++
		}
	case st.Phase == progressing && st.StepIndex == h.stepIndex && st.StepIndex > 0 &&
		st.LastCheckTime != nil && !st.LastCheckTime.Time.Equal(h.lastCheck):
		h.halts++
	case st.Phase == fledgev1alpha1.PhaseSucceeded && h.phase == progressing:
		t.missed++ // the Promoting status was merged away
	}
	if (st.Phase == fledgev1alpha1.PhaseSucceeded || st.Phase == fledgev1alpha1.PhaseFailed) &&
		h.doneAt.IsZero() && st.LastTransitionTime != nil {
		h.doneAt = st.LastTransitionTime.Time
	}
}

// waitAll waits until done holds for every expected Canary, and returns how long after from
// it did. It fails when timeout passes (counted from from) or alive reports a problem.
func (t *tracker) waitAll(ctx context.Context, from time.Time, timeout time.Duration, alive func() error, done func(*history) bool) (time.Duration, error) {
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	lastReport := time.Now()
	for {
		pending, summary := t.pending(done)
		now := time.Now()
		switch {
		case pending == 0:
			return now.Sub(from).Round(time.Millisecond), nil
		case now.Sub(from) > timeout:
			return now.Sub(from).Round(time.Millisecond), fmt.Errorf("timed out after %s with %d Canaries not there yet (%s)", timeout, pending, summary)
		case now.Sub(lastReport) >= 15*time.Second:
			fmt.Printf("bench: %6s  %s\n", now.Sub(from).Round(time.Second), summary)
			lastReport = now
		}
		if err := alive(); err != nil {
			return now.Sub(from).Round(time.Millisecond), err
		}
		select {
		case <-ctx.Done():
			return now.Sub(from).Round(time.Millisecond), ctx.Err()
		case <-poll.C:
		}
	}
}

// pending counts the Canaries for which done does not hold, and summarises the phases, with
// the message of one pending Canary as an example.
func (t *tracker) pending(done func(*history) bool) (int, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	phases := map[string]int{}
	pending, example := 0, ""
	for key, h := range t.canaries {
		phase := string(h.phase)
		if phase == "" {
			phase = "(no status)"
		}
		phases[phase]++
		if !done(h) {
			pending++
			if example == "" {
				example = fmt.Sprintf("%s: %s %q", key, phase, h.message)
			}
		}
	}
	var parts []string
	for _, p := range slices.Sorted(maps.Keys(phases)) {
		parts = append(parts, fmt.Sprintf("%s %d", p, phases[p]))
	}
	summary := strings.Join(parts, ", ")
	if example != "" {
		summary += "; e.g. " + example
	}
	return pending, summary
}

// observed is a copy of what the tracker recorded, for the report.
type observed struct {
	triggeredAt time.Time
	histories   map[types.NamespacedName]history
	samples     []stepSample
	visible     []time.Duration
	missed      int
}

func (t *tracker) snapshot() observed {
	t.mu.Lock()
	defer t.mu.Unlock()
	o := observed{
		triggeredAt: t.triggeredAt,
		histories:   make(map[types.NamespacedName]history, len(t.canaries)),
		samples:     slices.Clone(t.samples),
		visible:     slices.Clone(t.visible),
		missed:      t.missed,
	}
	for k, h := range t.canaries {
		o.histories[k] = *h
	}
	return o
}
