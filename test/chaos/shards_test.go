package chaos_test

import (
	"context"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"fledge.dev/fledge/test/cluster"
)

// suiteShards is how many shards the sharded replicas share.
const suiteShards = 6

// shardHolders counts the shard Leases each identity holds.
func shardHolders(ctx context.Context) map[string]int {
	var leases coordinationv1.LeaseList
	if err := k8s.List(ctx, &leases, client.InNamespace(cluster.ManagerNamespace), client.MatchingLabels{"fledge.dev/lease-role": "shard"}); err != nil {
		return nil
	}
	held := map[string]int{}
	for _, l := range leases.Items {
		if h := ptr.Deref(l.Spec.HolderIdentity, ""); h != "" {
			held[h]++
		}
	}
	return held
}

var _ = Describe("three replicas sharing the Canaries in shards, one killed and one frozen", func() {
	It("move the shards on within a lease duration; the thawed one writes nothing until it holds a shard again, and every rollout ends as its metrics call for, steps once per step and is told once", func(ctx context.Context) {
		rec := startRecorder(ctx)
		replicas := []*replica{startShardedReplica("shard-a", suiteShards), startShardedReplica("shard-b", suiteShards), startShardedReplica("shard-c", suiteShards)}
		Eventually(func() []int {
			held := shardHolders(ctx)
			var n []int
			for _, r := range replicas {
				n = append(n, held[r.identity()])
			}
			return n
		}).WithContext(ctx).Should(Equal([]int{2, 2, 2}), "the replicas split the shards evenly")

		apps := make([]*chaosApp, 6)
		for i := range apps {
			apps[i] = newChaosApp(ctx, "sharded", i, weighted)
		}
		By("rolling out releases of each application, good and bad, until the faults are over")
		faultsOver := make(chan struct{})
		var running sync.WaitGroup
		for _, a := range apps {
			running.Go(func() {
				defer GinkgoRecover()
				for n := 1; ; n++ {
					last := false
					select {
					case <-faultsOver:
						last = true // one more, begun after them
					default:
					}
					a.release(ctx, n, n%3 != 0, 3*time.Minute)
					if last || ctx.Err() != nil {
						return
					}
				}
			})
		}
		Eventually(func() int32 { return apps[0].get(ctx).Status.StepIndex }).WithContext(ctx).Should(BeNumerically(">=", 1))

		By("killing one replica: the others hold its shards within a lease duration and a round")
		killed := replicas[0]
		killedID := killed.identity()
		killed.kill(0)
		Eventually(func() int { return shardHolders(ctx)[killedID] }).WithContext(ctx).
			WithTimeout(leaseDuration + 3*retryPeriod + 2*time.Second).Should(BeZero())

		By("freezing another past its Leases: the others take its shards")
		frozenReplica := replicas[1]
		frozenID := frozenReplica.identity()
		frozen, frozenLog := frozenReplica.current(), frozenReplica.logs[len(frozenReplica.logs)-1]
		Expect(frozen.Freeze()).To(Succeed())
		Eventually(func() int { return shardHolders(ctx)[frozenID] }).WithContext(ctx).
			WithTimeout(leaseDuration + 3*retryPeriod + 2*time.Second).Should(BeZero())
		time.Sleep(2 * time.Second) // the others act on its Canaries: writes, posts
		thawed := time.Now()
		Expect(frozen.Thaw()).To(Succeed())

		By("the thawed replica writes nothing for a Canary until it has taken a shard again")
		Eventually(func() int { return shardHolders(ctx)[frozenID] }).WithContext(ctx).Should(BeNumerically(">", 0), "it rejoins")
		writes, err := writesAfter(frozenLog, thawed, "took a shard")
		Expect(err).NotTo(HaveOccurred())
		Expect(writes).To(BeEmpty(), "the thawed replica wrote before it held a shard again")
		close(faultsOver)

		running.Wait()
		t := expectZeroTally(ctx, rec, apps, time.Minute)
		AddReportEntry("sharded replicas", t.counts())
	}, NodeTimeout(15*time.Minute))
})
