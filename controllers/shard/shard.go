// Package shard splits the Canaries among several manager replicas. The Canaries fall into a
// fixed number of shards by a hash of their name; each shard is a Kubernetes Lease, held by one
// replica at a time, which alone reconciles, writes for and notifies about the Canaries of the
// shard. Replicas announce themselves with a member Lease each; every replica computes from the
// live members the same balanced assignment, takes the shards assigned to it once their Lease
// is free or has lapsed, and hands over the ones assigned elsewhere after the work in flight on
// them has ended. Mutual exclusion is the API server's: a Lease is taken by an update on the
// resourceVersion a replica read, which one replica alone wins.
package shard

import (
	"hash/fnv"
	"slices"

	"k8s.io/apimachinery/pkg/types"
)

// MaxShards bounds the shard count: each shard is a Lease renewed every retry period.
const MaxShards = 256

// Of returns the shard of the Canary key among count shards.
func Of(key types.NamespacedName, count int) int {
	if count <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(key.Namespace))
	h.Write([]byte{'/'})
	h.Write([]byte(key.Name))
	return int(h.Sum32() % uint32(count))
}

// Assign spreads count shards over members: each gets count/len(members) shards or one more,
// and each shard goes to the member that ranks highest for it (rendezvous hashing) among those
// with room left. Every replica that sees the same members computes the same assignment, and a
// member that joins or leaves moves few shards of the others. It returns the shards of each
// member, in order.
func Assign(count int, members []string) map[string][]int {
	members = slices.Compact(slices.Sorted(slices.Values(members)))
	if len(members) == 0 || count <= 0 {
		return map[string][]int{}
	}
	base, extra := count/len(members), count%len(members)
	// Which members get the extra shards is itself decided by rank, not by name order, so
	// that no member is always the one left with fewer.
	room := map[string]int{}
	for _, m := range rankMembers(-1, members) {
		room[m] = base
		if extra > 0 {
			room[m]++
			extra--
		}
	}
	assigned := make(map[string][]int, len(members))
	for s := range count {
		for _, m := range rankMembers(s, members) {
			if room[m] > 0 {
				room[m]--
				assigned[m] = append(assigned[m], s)
				break
			}
		}
	}
	return assigned
}

// rankMembers orders members by their rendezvous weight for shard s, highest first (ties by
// name, so the order is total).
func rankMembers(s int, members []string) []string {
	ranked := slices.Clone(members)
	weight := make(map[string]uint64, len(members))
	for _, m := range members {
		weight[m] = rendezvous(s, m)
	}
	slices.SortFunc(ranked, func(a, b string) int {
		switch {
		case weight[a] > weight[b]:
			return -1
		case weight[a] < weight[b]:
			return 1
		case a < b:
			return -1
		case a > b:
			return 1
		}
		return 0
	})
	return ranked
}

func rendezvous(s int, member string) uint64 {
	h := fnv.New64a()
	h.Write([]byte{byte(s >> 24), byte(s >> 16), byte(s >> 8), byte(s)})
	h.Write([]byte(member))
	// FNV's low bits mix poorly for short inputs: finish with a 64-bit mixer (splitmix64's).
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
