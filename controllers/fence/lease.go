// Package fence keeps a manager that lost the leader lease from acting. A leader frozen past
// its lease (a stopped process, a long GC pause, a partition) resumes believing it leads; the
// leader elector notices only at its next renewal, and until then the manager's workers go on.
// Lease measures, on this process's monotonic clock, how long ago the lease was last renewed,
// and refuses once that is longer than the elector itself would tolerate: a frozen process
// finds on waking that a lot of time has passed, before it writes anything.
package fence

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Fence tells whether this process may still act for the cluster.
type Fence interface {
	// Check returns an error, saying why, when it may not.
	Check(ctx context.Context) error
}

// Lease is a resourcelock.Interface for the leader elector that remembers when this
// process last renewed the lease, and a Fence on it.
type Lease struct {
	resourcelock.Interface
	// Valid is how long after a renewal this process still counts as the leader: the
	// elector's renew deadline, after which it gives the lease up itself.
	Valid time.Duration

	mu      sync.Mutex
	renewed time.Time // from time.Now: it carries the monotonic clock
}

var _ Fence = (*Lease)(nil)

// Create records the acquisition of the lease.
func (l *Lease) Create(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	sent := time.Now()
	return l.mark(ler, sent, l.Interface.Create(ctx, ler))
}

// Update records a renewal of the lease.
func (l *Lease) Update(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	sent := time.Now()
	return l.mark(ler, sent, l.Interface.Update(ctx, ler))
}

// mark records a renewal as of when it was sent, not answered: the other replicas count the
// lease from the write, and a freeze between the write and its answer must not extend it.
func (l *Lease) mark(ler resourcelock.LeaderElectionRecord, sent time.Time, err error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case err != nil:
	case ler.HolderIdentity == l.Identity():
		l.renewed = sent
	default:
		l.renewed = time.Time{} // released
	}
	return err
}

// Check refuses when the lease was never held, or not renewed within Valid.
func (l *Lease) Check(context.Context) error {
	l.mu.Lock()
	renewed := l.renewed
	l.mu.Unlock()
	if renewed.IsZero() {
		return fmt.Errorf("this manager does not hold the leader lease (%s)", l.Describe())
	}
	if since := time.Since(renewed); since > l.Valid {
		return fmt.Errorf("this manager last renewed the leader lease %s ago, more than %s: another may lead now", since.Round(time.Millisecond), l.Valid)
	}
	return nil
}
