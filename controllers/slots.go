package controllers

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/rollout"
)

// rolloutSlots caps the rollouts that run at once, across the cluster and in each namespace,
// and serves the queued ones oldest first. It lives on the leader, where the reconciles run:
// a slot is taken under its lock before the decision that starts a rollout, so that
// concurrent reconciles cannot pass the cap, and it is given back once the status that ends
// the rollout is written. It learns who holds a slot from the cache when it is first used.
type rolloutSlots struct {
	// total and perNamespace are the caps; 0 is no cap.
	total, perNamespace int
	reader              client.Reader
	// wake enqueues a queued Canary whose turn came.
	wake chan event.GenericEvent

	mu        sync.Mutex
	loaded    bool
	running   map[types.NamespacedName]bool
	runningIn map[string]int
	// waiting is the queue, oldest first (by since, then name).
	waiting []waiter
}

type waiter struct {
	key   types.NamespacedName
	since time.Time
}

func newRolloutSlots(total, perNamespace int, reader client.Reader) *rolloutSlots {
	if total <= 0 && perNamespace <= 0 {
		return nil // no cap: every rollout starts at once
	}
	return &rolloutSlots{
		total: max(total, 0), perNamespace: max(perNamespace, 0), reader: reader,
		wake:    make(chan event.GenericEvent, 1024),
		running: map[types.NamespacedName]bool{}, runningIn: map[string]int{},
	}
}

// acquire takes a slot for canary, which may start a rollout at now, or queues it: it returns
// "" when the rollout may start, and otherwise why not, for its status.
func (s *rolloutSlots) acquire(ctx context.Context, canary *fledgev1alpha1.Canary, now time.Time) (string, error) {
	if s == nil {
		return "", nil
	}
	key := client.ObjectKeyFromObject(canary)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.load(ctx); err != nil {
		return "", err
	}
	if s.running[key] {
		return "", nil
	}
	s.enqueue(key, queuedSince(canary, now))
	if !s.turnOf(key) {
		return s.why(key.Namespace), nil
	}
	s.remove(key)
	s.running[key] = true
	s.runningIn[key.Namespace]++
	return "", nil
}

// settle records where canary stands once its status is written: a running rollout holds its
// slot, a queued one waits, and any other gives its slot or place back, which may be the turn
// of others.
func (s *rolloutSlots) settle(ctx context.Context, canary *fledgev1alpha1.Canary) error {
	if s == nil {
		return nil
	}
	key := client.ObjectKeyFromObject(canary)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.load(ctx); err != nil {
		return err
	}
	switch phase := canary.Status.Phase; {
	case rollout.HoldsSlot(phase):
		s.remove(key)
		if !s.running[key] {
			s.running[key] = true
			s.runningIn[key.Namespace]++
		}
		return nil
	case phase == fledgev1alpha1.PhaseQueued && !canary.Spec.Suspend:
		s.release(key)
		s.enqueue(key, queuedSince(canary, time.Time{}))
	default:
		s.release(key)
		s.remove(key)
	}
	s.wakeTurns()
	return nil
}

// forget gives back the slot or place of a Canary that is gone, being deleted, or cannot be
// acted on until its spec is fixed (it asks again then).
func (s *rolloutSlots) forget(key types.NamespacedName) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.release(key)
	s.remove(key)
	s.wakeTurns()
}

// load learns from the cache which Canaries run a rollout and which wait, once.
func (s *rolloutSlots) load(ctx context.Context) error {
	if s.loaded {
		return nil
	}
	var canaries fledgev1alpha1.CanaryList
	if err := s.reader.List(ctx, &canaries, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("count the rollouts that run, for the cap on simultaneous rollouts: %w", err)
	}
	for i := range canaries.Items {
		c := &canaries.Items[i]
		key := client.ObjectKeyFromObject(c)
		switch {
		case rollout.HoldsSlot(c.Status.Phase):
			s.running[key] = true
			s.runningIn[key.Namespace]++
		case c.Status.Phase == fledgev1alpha1.PhaseQueued && !c.Spec.Suspend:
			s.enqueue(key, queuedSince(c, time.Time{}))
		}
	}
	s.loaded = true
	return nil
}

// queuedSince is when canary's revision was queued: as its status records it, or now, to the
// second as status will record it, for one not queued yet.
func queuedSince(c *fledgev1alpha1.Canary, now time.Time) time.Time {
	if q := c.Status.Queue; q != nil && c.Status.Phase == fledgev1alpha1.PhaseQueued {
		return q.Since.Time
	}
	return now.Truncate(time.Second)
}

func (s *rolloutSlots) enqueue(key types.NamespacedName, since time.Time) {
	for _, w := range s.waiting {
		if w.key == key {
			return
		}
	}
	i := sort.Search(len(s.waiting), func(i int) bool { return before(waiter{key, since}, s.waiting[i]) })
	s.waiting = append(s.waiting, waiter{})
	copy(s.waiting[i+1:], s.waiting[i:])
	s.waiting[i] = waiter{key, since}
}

func before(a, b waiter) bool {
	if !a.since.Equal(b.since) {
		return a.since.Before(b.since)
	}
	return a.key.String() < b.key.String()
}

func (s *rolloutSlots) remove(key types.NamespacedName) {
	for i, w := range s.waiting {
		if w.key == key {
			s.waiting = append(s.waiting[:i], s.waiting[i+1:]...)
			return
		}
	}
}

func (s *rolloutSlots) release(key types.NamespacedName) {
	if s.running[key] {
		delete(s.running, key)
		if s.runningIn[key.Namespace]--; s.runningIn[key.Namespace] <= 0 {
			delete(s.runningIn, key.Namespace)
		}
	}
}

// turns returns the queued Canaries that the free slots go to now, oldest first; one whose
// namespace is full lets the next one by.
func (s *rolloutSlots) turns(stopAt types.NamespacedName) []types.NamespacedName {
	free := -1 // no cluster-wide cap
	if s.total > 0 {
		free = s.total - len(s.running)
	}
	taken := map[string]int{}
	var out []types.NamespacedName
	for _, w := range s.waiting {
		if free == 0 {
			break
		}
		if s.perNamespace > 0 && s.runningIn[w.key.Namespace]+taken[w.key.Namespace] >= s.perNamespace {
			continue
		}
		out = append(out, w.key)
		if w.key == stopAt {
			break
		}
		taken[w.key.Namespace]++
		if free > 0 {
			free--
		}
	}
	return out
}

func (s *rolloutSlots) turnOf(key types.NamespacedName) bool {
	t := s.turns(key)
	return len(t) > 0 && t[len(t)-1] == key
}

func (s *rolloutSlots) wakeTurns() {
	for _, key := range s.turns(types.NamespacedName{}) {
		c := &fledgev1alpha1.Canary{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
		select {
		case s.wake <- event.GenericEvent{Object: c}:
		default: // the queue is awash with wakes; the Canary looks again within a minute
		}
	}
}

// why says, for a queued Canary's status, which cap holds it back. The words do not change
// while it waits, so that waiting writes nothing.
func (s *rolloutSlots) why(namespace string) string {
	if s.perNamespace > 0 && (s.total == 0 || s.runningIn[namespace] >= s.perNamespace) {
		return fmt.Sprintf("namespace %s runs at most %d %s at once (--max-concurrent-rollouts-per-namespace); this one starts when one of them ends",
			namespace, s.perNamespace, plural(s.perNamespace, "rollout"))
	}
	return fmt.Sprintf("the cluster runs at most %d %s at once (--max-concurrent-rollouts); the oldest queued start first as slots free",
		s.total, plural(s.total, "rollout"))
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
