package shard

import (
	"context"
	"maps"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// acquire takes shard s when its Lease is missing, free or lapsed. The update is made on the
// resourceVersion read: of two replicas that try at once, one wins, the other gets a conflict.
func (c *Coordinator) acquire(ctx context.Context, s int, lease *coordinationv1.Lease) {
	leases := c.leases()
	sent := time.Now()
	var got *coordinationv1.Lease
	var err error
	if lease == nil {
		got, err = leases.Create(ctx, c.newLease(c.shardLease(s), roleShard), metav1.CreateOptions{})
	} else {
		if !c.lapsed(lease) {
			return // held by another, who renews it or hands it over
		}
		l := lease.DeepCopy()
		now := metav1.NowMicro()
		if previous := ptr.Deref(l.Spec.HolderIdentity, ""); previous != c.Identity {
			l.Spec.LeaseTransitions = ptr.To(ptr.Deref(l.Spec.LeaseTransitions, 0) + 1)
		}
		l.Spec.HolderIdentity, l.Spec.AcquireTime, l.Spec.RenewTime = ptr.To(c.Identity), &now, &now
		l.Spec.LeaseDurationSeconds = c.newLease("", "").Spec.LeaseDurationSeconds
		got, err = leases.Update(ctx, l, metav1.UpdateOptions{})
	}
	switch {
	case apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err):
		return // another replica was first; look again next round
	case err != nil:
		c.Log.Error(err, "take the Lease of a shard", "shard", s)
		return
	}
	c.mu.Lock()
	c.held[s] = &heldShard{lease: got, renewed: sent}
	shardsHeld.Set(float64(len(c.held)))
	c.mu.Unlock()
	previous := ""
	if lease != nil {
		previous = ptr.Deref(lease.Spec.HolderIdentity, "")
	}
	c.Log.Info("took a shard", "shard", s, "previous", previous)
	for _, f := range c.acquired {
		go f(s)
	}
}

// keep renews a held shard, hands it over once it is assigned elsewhere and its work in
// flight has ended (or RenewDeadline after it was asked to, whatever is in flight), and drops
// it when another took it or the renewals failed for longer than RenewDeadline.
func (c *Coordinator) keep(ctx context.Context, s int, h *heldShard, want bool, listed *coordinationv1.Lease) {
	if listed != nil && ptr.Deref(listed.Spec.HolderIdentity, "") != c.Identity {
		c.drop(s, "another replica holds its Lease now")
		return
	}
	c.mu.Lock()
	if !c.valid(h) {
		c.mu.Unlock()
		c.drop(s, "its Lease was not renewed within the renew deadline")
		return
	}
	switch {
	case !want && !h.releasing:
		h.releasing, h.releasingSince = true, time.Now()
	case want && h.releasing:
		h.releasing = false // assigned here again before it was handed over
	}
	handOver := h.releasing && (c.busy[s] == 0 || time.Since(h.releasingSince) > c.RenewDeadline)
	c.mu.Unlock()
	if handOver {
		c.release(ctx, s, h)
		return
	}
	c.renew(ctx, s, h)
}

// renew writes the Lease again; the time it was sent is what the fence counts from.
func (c *Coordinator) renew(ctx context.Context, s int, h *heldShard) {
	l := h.lease.DeepCopy()
	now := metav1.NowMicro()
	l.Spec.RenewTime = &now
	sent := time.Now()
	got, err := c.leases().Update(ctx, l, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		// Our copy is old; whether the Lease is still ours is read next round.
		if fresh, getErr := c.leases().Get(ctx, l.Name, metav1.GetOptions{}); getErr == nil && ptr.Deref(fresh.Spec.HolderIdentity, "") == c.Identity {
			c.mu.Lock()
			h.lease = fresh
			c.mu.Unlock()
		}
		return
	}
	if err != nil {
		c.Log.Error(err, "renew the Lease of a shard", "shard", s)
		return
	}
	c.mu.Lock()
	h.lease, h.renewed = got, sent
	c.mu.Unlock()
}

// release hands the shard over: the Lease is left free for the replica it is assigned to.
func (c *Coordinator) release(ctx context.Context, s int, h *heldShard) {
	l := h.lease.DeepCopy()
	now := metav1.NowMicro()
	l.Spec.HolderIdentity, l.Spec.RenewTime, l.Spec.LeaseDurationSeconds = nil, &now, ptr.To(int32(1))
	// Dropped first: from here no write for the shard leaves this replica.
	c.drop(s, "it is assigned to another replica")
	if _, err := c.leases().Update(ctx, l, metav1.UpdateOptions{}); err != nil {
		// Not fatal: the Lease lapses after its duration, and is taken then.
		c.Log.Error(err, "hand over the Lease of a shard", "shard", s)
	}
}

// drop forgets a held shard and tells those who asked.
func (c *Coordinator) drop(s int, why string) {
	c.mu.Lock()
	_, had := c.held[s]
	delete(c.held, s)
	shardsHeld.Set(float64(len(c.held)))
	c.mu.Unlock()
	if !had {
		return
	}
	c.Log.Info("gave up a shard", "shard", s, "why", why)
	for _, f := range c.released {
		go f(s)
	}
}

// leave, on shutdown, stops new work, waits (at most RenewDeadline) for the work in flight,
// hands every shard over and deletes the member Lease, so that the others take over at
// their next round, not a lease duration later.
func (c *Coordinator) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), c.RenewDeadline)
	defer cancel()
	c.mu.Lock()
	for _, h := range c.held {
		h.releasing = true
	}
	c.mu.Unlock()
	for ctx.Err() == nil && c.inFlight() > 0 {
		time.Sleep(10 * time.Millisecond)
	}
	c.mu.Lock()
	held := maps.Clone(c.held)
	c.mu.Unlock()
	for s, h := range held {
		c.release(ctx, s, h)
	}
	if c.member != nil {
		err := c.leases().Delete(ctx, c.member.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			c.Log.Error(err, "delete this replica's member Lease")
		}
	}
}

func (c *Coordinator) inFlight() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, b := range c.busy {
		n += b
	}
	return n
}
