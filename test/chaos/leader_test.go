package chaos_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"fledge.dev/fledge/test/cluster"
)

// leaseHolder is the identity that holds the managers' leader Lease.
func leaseHolder(ctx context.Context) string {
	lease := &coordinationv1.Lease{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: cluster.ManagerNamespace, Name: "fledge.dev"}, lease); err != nil {
		return ""
	}
	return ptr.Deref(lease.Spec.HolderIdentity, "")
}

var _ = Describe("two replicas, one of them frozen while it leads", func() {
	It("let the other take over; the old leader, once thawed, writes nothing and steps down, and Slack hears each turn once", func(ctx context.Context) {
		rec := startRecorder(ctx)
		replicas := []*replica{startReplica("replica-a"), startReplica("replica-b")}
		apps := make([]*chaosApp, 3)
		for i := range apps {
			apps[i] = newChaosApp(ctx, "frozen", i, weighted)
		}

		By("starting a rollout of each application")
		var running sync.WaitGroup
		for _, a := range apps {
			running.Go(func() {
				defer GinkgoRecover()
				a.release(ctx, 1, true, 4*time.Minute)
			})
		}
		holder := func() string { return leaseHolder(ctx) }
		var leader, other *replica
		Eventually(func() error {
			h := holder()
			for i, r := range replicas {
				if id := r.identity(); id != "" && id == h {
					leader, other = r, replicas[1-i]
					return nil
				}
			}
			return fmt.Errorf("the lease is held by %q, none of the replicas", h)
		}).WithContext(ctx).Should(Succeed())
		Eventually(func() int32 { return apps[0].get(ctx).Status.StepIndex }).WithContext(ctx).Should(BeNumerically(">=", 1))

		By("freezing the leader past its lease, until the other replica leads")
		frozen, frozenLog := leader.current(), leader.logs[len(leader.logs)-1]
		Expect(frozen.Freeze()).To(Succeed())
		Eventually(holder).WithContext(ctx).WithTimeout(30 * time.Second).Should(Equal(other.identity()))
		time.Sleep(2 * time.Second) // the new leader acts: writes, posts
		thawed := time.Now()
		Expect(frozen.Thaw()).To(Succeed())

		By("the thawed leader gives up without a write")
		Eventually(frozen.Exited()).WithContext(ctx).WithTimeout(30*time.Second).Should(BeClosed(), "a leader that lost its lease must step down")
		writes, err := writesAfter(frozenLog, thawed, "")
		Expect(err).NotTo(HaveOccurred())
		Expect(writes).To(BeEmpty(), "the old leader wrote after it was thawed")

		running.Wait()
		t := expectZeroTally(ctx, rec, apps, time.Minute)
		Expect(rec.leaderChanges()).To(BeNumerically(">=", 1))
		AddReportEntry("frozen leader", t.counts())
	}, NodeTimeout(15*time.Minute))
})
