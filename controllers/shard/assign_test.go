package shard_test

import (
	"fmt"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"fledge.dev/fledge/controllers/shard"
)

func members(n int) []string {
	var m []string
	for i := range n {
		m = append(m, fmt.Sprintf("manager-%d_%08x", i, i*2654435761))
	}
	return m
}

// Every shard goes to exactly one member, and the members' shares differ by one at most.
func TestAssignCoversEveryShardOnceAndBalances(t *testing.T) {
	for _, count := range []int{1, 2, 7, 16, 64, shard.MaxShards} {
		for n := 1; n <= 9; n++ {
			got := shard.Assign(count, members(n))
			owner := map[int]string{}
			least, most := count, 0
			for m, shards := range got {
				for _, s := range shards {
					if prev, ok := owner[s]; ok {
						t.Fatalf("%d shards, %d members: shard %d assigned to %s and %s", count, n, s, prev, m)
					}
					owner[s] = m
				}
			}
			for _, m := range members(n) {
				least, most = min(least, len(got[m])), max(most, len(got[m]))
			}
			if len(owner) != count {
				t.Fatalf("%d shards, %d members: %d assigned", count, n, len(owner))
			}
			if most-least > 1 {
				t.Fatalf("%d shards, %d members: shares from %d to %d", count, n, least, most)
			}
		}
	}
}

// Replicas that list the members in any order compute the same assignment.
func TestAssignIsTheSameWhateverTheOrder(t *testing.T) {
	m := members(5)
	want := shard.Assign(16, m)
	reversed := slices.Clone(m)
	slices.Reverse(reversed)
	got := shard.Assign(16, append(reversed, m[2])) // a duplicate too
	for _, name := range m {
		if !slices.Equal(got[name], want[name]) {
			t.Fatalf("%s: %v in one order, %v in another", name, want[name], got[name])
		}
	}
}

// A member that joins takes about its share from the others, and the others keep the rest:
// few Canaries change hands.
func TestAssignMovesFewShardsWhenAMemberJoins(t *testing.T) {
	const count = 64
	for n := 1; n <= 6; n++ {
		before, after := shard.Assign(count, members(n)), shard.Assign(count, members(n+1))
		moved := 0
		for _, m := range members(n) {
			for _, s := range before[m] {
				if !slices.Contains(after[m], s) {
					moved++
				}
			}
		}
		// The newcomer's share must move; allow as much again for the rebalancing of the
		// extra shards between the others.
		if share := count / (n + 1); moved > 2*share+n {
			t.Fatalf("%d → %d members: %d of %d shards moved, the newcomer's share is %d", n, n+1, moved, count, share)
		}
	}
}

func TestShardOfIsStableAndInRange(t *testing.T) {
	key := types.NamespacedName{Namespace: "shop", Name: "checkout"}
	if shard.Of(key, 1) != 0 {
		t.Fatal("one shard holds every Canary")
	}
	counts := make([]int, 16)
	for i := range 16000 {
		s := shard.Of(types.NamespacedName{Namespace: fmt.Sprintf("team-%d", i%40), Name: fmt.Sprintf("svc-%d", i)}, 16)
		if s < 0 || s >= 16 {
			t.Fatalf("shard %d out of range", s)
		}
		counts[s]++
	}
	for s, n := range counts {
		if n < 800 || n > 1200 { // 1000 each expected; a bad hash piles them up
			t.Fatalf("shard %d has %d of 16000 Canaries: %v", s, n, counts)
		}
	}
	if shard.Of(key, 16) != shard.Of(key, 16) {
		t.Fatal("the shard of a Canary changed")
	}
}

func FuzzAssign(f *testing.F) {
	f.Add(16, 3, "a")
	f.Fuzz(func(t *testing.T, count, n int, salt string) {
		count, n = count%(shard.MaxShards+1), n%20
		if count <= 0 || n <= 0 {
			return
		}
		var m []string
		for i := range n {
			m = append(m, fmt.Sprintf("%s-%d", salt, i))
		}
		got := shard.Assign(count, m)
		total := 0
		for _, shards := range got {
			total += len(shards)
		}
		if total != count {
			t.Fatalf("%d shards over %v: %d assigned", count, m, total)
		}
	})
}
