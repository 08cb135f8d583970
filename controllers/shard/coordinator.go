package shard

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"

	"fledge.dev/fledge/controllers/fence"
)

// Coordinator holds this replica's shards: a manager Runnable that runs on every replica
// (not only on a leader) and, every RetryPeriod, renews this replica's member Lease, reads
// the others, and takes, renews or hands over shard Leases as the assignment says. It is the
// replica's Fence too: a write for a Canary goes out only while its shard's Lease was renewed
// within RenewDeadline, so a replica that froze past it writes nothing when it wakes.
type Coordinator struct {
	// Leases reads and writes the Leases, on a connection that is not fenced itself and
	// whose rate limit lets a round through at once (see RequestsPerRound).
	Leases coordinationv1client.LeasesGetter
	// Namespace holds the Leases; Prefix begins their names (<Prefix>-shard-<n>,
	// <Prefix>-member-<member>).
	Namespace, Prefix string
	// Identity names this replica in the Leases it holds; Member (DNS-safe, unique to this
	// process) names its member Lease.
	Identity, Member string
	// Shards is the shard count: the same on every replica, or none holds a shard.
	Shards int
	// LeaseDuration is how long a Lease that nobody renews stays another's; RenewDeadline,
	// shorter, how long after its last renewal the holder still acts on it; RetryPeriod, how
	// often the Leases are read and renewed.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	Log                                       logr.Logger

	mu       sync.Mutex
	held     map[int]*heldShard
	busy     map[int]int // work in flight on each shard
	seen     map[string]sighting
	member   *leaseRecord
	acquired []func(shard int)
	released []func(shard int)
	disagree string // why the shard counts of the members disagree, when they do
}

// heldShard is a shard whose Lease this replica holds.
type heldShard struct {
	lease *leaseRecord
	// renewed is when the last write that renewed the Lease was sent (from time.Now: it
	// carries the monotonic clock, which a frozen process sees jump).
	renewed time.Time
	// releasing: the shard is assigned elsewhere; no new work starts on it, and the Lease is
	// given up once the work in flight ends.
	releasing      bool
	releasingSince time.Time
}

var _ fence.Fence = (*Coordinator)(nil)

// OnAcquire registers f, called in a goroutine of its own with each shard this replica takes.
// Register before Start.
func (c *Coordinator) OnAcquire(f func(shard int)) { c.acquired = append(c.acquired, f) }

// OnRelease registers f, called with each shard this replica gave up or lost. Register before
// Start.
func (c *Coordinator) OnRelease(f func(shard int)) { c.released = append(c.released, f) }

// RequestsPerRound bounds the requests of one round of a coordinator with the given shard
// count: its member Lease, the list, and one write per shard (a renewal, or a take and
// a read on conflict). Give its connection a burst of at least that.
func RequestsPerRound(shards int) int { return 2*shards + 3 }

// ShardOf returns the shard of a Canary.
func (c *Coordinator) ShardOf(key types.NamespacedName) int { return Of(key, c.Shards) }

// Begin starts work on the Canary key when this replica owns it, and says so; done ends it.
// A shard is handed over only once the work begun on it has ended.
func (c *Coordinator) Begin(key types.NamespacedName) (done func(), ok bool) {
	s := c.ShardOf(key)
	c.mu.Lock()
	defer c.mu.Unlock()
	if h := c.held[s]; h == nil || h.releasing || !c.valid(h) {
		return nil, false
	}
	c.busy[s]++
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			c.busy[s]--
			c.mu.Unlock()
		})
	}, true
}

// Check lets a write through when ctx is marked for a Canary (fence.ForCanary) whose shard's
// Lease this replica renewed within RenewDeadline. A write marked for no Canary (the Events
// client-go's recorder sends in the background, queued by a reconcile) goes through while
// this replica holds some shard so renewed: one that froze sends nothing it queued before
// until it has taken a shard again.
func (c *Coordinator) Check(ctx context.Context) error {
	key, ok := fence.CanaryOf(ctx)
	if !ok {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, h := range c.held {
			if c.valid(h) {
				return nil
			}
		}
		return errors.New("this replica holds no shard whose Lease it renewed within the renew deadline")
	}
	s := c.ShardOf(key)
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.held[s]
	if h == nil {
		return fmt.Errorf("this replica does not hold shard %d (Lease %s/%s), which Canary %s is in", s, c.Namespace, c.shardLease(s), key)
	}
	if since := time.Since(h.renewed); since > c.RenewDeadline {
		return fmt.Errorf("this replica last renewed the Lease of shard %d %s ago, more than %s: another may hold it now", s, since.Round(time.Millisecond), c.RenewDeadline)
	}
	return nil
}

// valid: the Lease was renewed within RenewDeadline. Call with mu held.
func (c *Coordinator) valid(h *heldShard) bool { return time.Since(h.renewed) <= c.RenewDeadline }

// Held returns the shards this replica holds, in order (for status and tests).
func (c *Coordinator) Held() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var shards []int
	for s := range c.Shards {
		if h := c.held[s]; h != nil && c.valid(h) {
			shards = append(shards, s)
		}
	}
	return shards
}

// NeedLeaderElection: the coordinator runs on every replica; it is what shares the work.
func (c *Coordinator) NeedLeaderElection() bool { return false }

// Start coordinates until ctx ends, then hands every shard over and leaves.
func (c *Coordinator) Start(ctx context.Context) error {
	if err := c.validate(); err != nil {
		return err
	}
	c.mu.Lock()
	c.held, c.busy, c.seen = map[int]*heldShard{}, map[int]int{}, map[string]sighting{}
	c.mu.Unlock()
	registerMetrics()
	c.Log.Info("sharing the Canaries", "shards", c.Shards, "identity", c.Identity, "namespace", c.Namespace)
	tick := time.NewTicker(c.RetryPeriod)
	defer tick.Stop()
	for {
		c.round(ctx)
		select {
		case <-ctx.Done():
			c.leave()
			return nil
		case <-tick.C:
		}
	}
}

func (c *Coordinator) validate() error {
	switch {
	case c.Shards < 1 || c.Shards > MaxShards:
		return fmt.Errorf("the shard count must be between 1 and %d, not %d", MaxShards, c.Shards)
	case c.LeaseDuration <= c.RenewDeadline:
		return fmt.Errorf("the lease duration (%s) must be longer than the renew deadline (%s)", c.LeaseDuration, c.RenewDeadline)
	case c.RetryPeriod <= 0 || c.RetryPeriod >= c.RenewDeadline:
		return fmt.Errorf("the retry period (%s) must be positive and shorter than the renew deadline (%s)", c.RetryPeriod, c.RenewDeadline)
	}
	return nil
}

func (c *Coordinator) shardLease(s int) string { return fmt.Sprintf("%s-shard-%d", c.Prefix, s) }
func (c *Coordinator) memberLease() string     { return c.Prefix + "-member-" + c.Member }
