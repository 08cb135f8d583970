package shard

import (
	"context"
	"strconv"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
)

// Labels and annotations of the Leases.
const (
	// LabelLeaseSet groups the Leases of one set of replicas (its value is the Prefix).
	LabelLeaseSet = "fledge.dev/lease-set"
	// LabelLeaseRole says whether a Lease is a member's or a shard's.
	LabelLeaseRole = "fledge.dev/lease-role"
	// AnnotationShards, on a member Lease, is the shard count the member works with.
	AnnotationShards = "fledge.dev/shards"

	roleMember = "member"
	roleShard  = "shard"
)

// leaseRecord is a Lease as this replica last read or wrote it.
type leaseRecord = coordinationv1.Lease

// sighting is when this replica first saw a Lease's current version. A Lease lapses after its
// duration without a new version, as measured on this replica's clock: the holder's clock,
// which wrote its renewTime, may differ from ours.
type sighting struct {
	version string
	at      time.Time
}

// staleMembers is how many lease durations a member Lease may go unrenewed before a live
// replica deletes it (a replica killed without leaving).
const staleMembers = 10

// round is one look at the Leases: renew this member, read the others, assign, and take,
// renew or give up each shard.
func (c *Coordinator) round(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, c.RenewDeadline)
	defer cancel()
	c.renewMember(ctx)
	list, err := c.leases().List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(labels.Set{LabelLeaseSet: c.Prefix}).String(),
	})
	if err != nil {
		c.Log.Error(err, "read the Leases of the shards; renewing the ones held")
		list = &coordinationv1.LeaseList{}
	}
	shards := map[string]*coordinationv1.Lease{}
	var members []*coordinationv1.Lease
	for i := range list.Items {
		l := &list.Items[i]
		c.sight(l)
		switch l.Labels[LabelLeaseRole] {
		case roleShard:
			shards[l.Name] = l
		case roleMember:
			members = append(members, l)
		}
	}
	want := map[int]bool{}
	if err != nil {
		// Nothing read: keep what is held, take nothing.
		c.mu.Lock()
		for s := range c.held {
			want[s] = true
		}
		c.mu.Unlock()
	} else if live, ok := c.liveMembers(ctx, members); ok {
		for _, s := range Assign(c.Shards, live)[c.Identity] {
			want[s] = true
		}
	}
	// The shards at once: one slow answer of a busy API server must not hold back the
	// renewals of the others past their deadline.
	var each sync.WaitGroup
	for s := range c.Shards {
		lease := shards[c.shardLease(s)]
		c.mu.Lock()
		h := c.held[s]
		c.mu.Unlock()
		switch {
		case h != nil:
			each.Go(func() { c.keep(ctx, s, h, want[s], lease) })
		case want[s]:
			each.Go(func() { c.acquire(ctx, s, lease) })
		}
	}
	each.Wait()
}

// sight records when a Lease's version was first seen.
func (c *Coordinator) sight(l *coordinationv1.Lease) {
	if seen, ok := c.seen[l.Name]; !ok || seen.version != l.ResourceVersion {
		c.seen[l.Name] = sighting{version: l.ResourceVersion, at: time.Now()}
	}
}

// lapsed: nobody holds the Lease, or nobody renewed it within its duration.
func (c *Coordinator) lapsed(l *coordinationv1.Lease) bool {
	if ptr.Deref(l.Spec.HolderIdentity, "") == "" {
		return true
	}
	duration := c.LeaseDuration
	if secs := ptr.Deref(l.Spec.LeaseDurationSeconds, 0); secs > 0 {
		duration = time.Duration(secs) * time.Second
	}
	seen, ok := c.seen[l.Name]
	return ok && time.Since(seen.at) > duration
}

// liveMembers returns the identities of the members whose Leases have not lapsed, this one
// included; false when they do not all work with this replica's shard count (during a change
// of it): then no replica holds a shard until the old ones have gone.
func (c *Coordinator) liveMembers(ctx context.Context, members []*coordinationv1.Lease) ([]string, bool) {
	live := []string{c.Identity}
	agree := true
	for _, l := range members {
		holder := ptr.Deref(l.Spec.HolderIdentity, "")
		if holder == c.Identity || l.Name == c.memberLease() {
			continue
		}
		if c.lapsed(l) {
			c.collect(ctx, l)
			continue
		}
		live = append(live, holder)
		if n := l.Annotations[AnnotationShards]; n != strconv.Itoa(c.Shards) {
			agree = false
			if why := "replica " + holder + " works with " + n + " shards"; why != c.disagree {
				c.Log.Info("the replicas disagree on the shard count: holding no shard until they agree", "shards", c.Shards, "other", holder, "otherShards", n)
				c.disagree = why
			}
		}
	}
	if agree {
		c.disagree = ""
	}
	return live, agree
}

// collect deletes the member Lease of a replica long gone (killed before it could leave).
func (c *Coordinator) collect(ctx context.Context, l *coordinationv1.Lease) {
	renewed := l.Spec.RenewTime
	if renewed == nil || time.Since(renewed.Time) < staleMembers*c.LeaseDuration {
		return
	}
	err := c.leases().Delete(ctx, l.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &l.ResourceVersion}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		c.Log.Error(err, "delete the member Lease of a replica gone", "lease", l.Name)
	}
}

// renewMember writes this replica's member Lease, creating it the first time.
func (c *Coordinator) renewMember(ctx context.Context) {
	leases := c.leases()
	now := metav1.NowMicro()
	if c.member == nil {
		got, err := leases.Get(ctx, c.memberLease(), metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			l := c.newLease(c.memberLease(), roleMember)
			l.Annotations = map[string]string{AnnotationShards: strconv.Itoa(c.Shards)}
			if got, err = leases.Create(ctx, l, metav1.CreateOptions{}); err != nil {
				c.Log.Error(err, "create this replica's member Lease")
				return
			}
			c.member = got
			return
		case err != nil:
			c.Log.Error(err, "read this replica's member Lease")
			return
		}
		c.member = got
	}
	l := c.member.DeepCopy()
	l.Spec.HolderIdentity, l.Spec.RenewTime = ptr.To(c.Identity), &now
	if l.Annotations == nil {
		l.Annotations = map[string]string{}
	}
	l.Annotations[AnnotationShards] = strconv.Itoa(c.Shards)
	got, err := leases.Update(ctx, l, metav1.UpdateOptions{})
	if err != nil {
		c.member = nil // read it again next round
		c.Log.Error(err, "renew this replica's member Lease")
		return
	}
	c.member = got
}

// newLease is a Lease of this set held by this replica from now.
func (c *Coordinator) newLease(name, role string) *coordinationv1.Lease {
	now := metav1.NowMicro()
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: c.Namespace, Labels: map[string]string{LabelLeaseSet: c.Prefix, LabelLeaseRole: role}},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To(c.Identity),
			LeaseDurationSeconds: ptr.To(int32((c.LeaseDuration + time.Second - 1) / time.Second)),
			AcquireTime:          &now,
			RenewTime:            &now,
		},
	}
}
