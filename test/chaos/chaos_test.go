package chaos_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// faults counts what the suite did to the stack.
type faults struct {
	Kills, KillsAtAWrite, EtcdFreezes, APIServerFreezes, APIServerRestarts int
}

// everyFaultOnce are draws that pick each kind of fault below in turn.
var everyFaultOnce = []float64{0.97, 0.1, 0.5, 0.8, 0.9}

func (f faults) count() int {
	return f.Kills + f.EtcdFreezes + f.APIServerFreezes + f.APIServerRestarts
}

var _ = Describe("rollouts through a manager killed at random, between any two writes, and a control plane frozen and restarted", func() {
	AfterEach(keepLogsOfAFailure)
	It("end as their metrics call for, never go back, never repeat or skip a step, and tell each turn once", func(ctx context.Context) {
		seed := *seedFlag
		if seed == 0 {
			seed = time.Now().UnixNano()
		}
		rng := rand.New(rand.NewPCG(uint64(seed), 2))
		AddReportEntry("seed", seed)
		GinkgoWriter.Printf("chaos seed %d (rerun with -chaos.seed=%d)\n", seed, seed)

		rec := startRecorder(ctx)
		manager := startReplica("manager")
		apps := make([]*chaosApp, max(1, min(*appsFlag, *rolloutsFlag)))
		for i := range apps {
			apps[i] = newChaosApp(ctx, "chaos", i, kind(i%3))
		}

		By("rolling out every application again and again, a third of the versions bad")
		perApp := (*rolloutsFlag + len(apps) - 1) / len(apps)
		plans := make([][]bool, len(apps))
		for i := range plans {
			for range perApp {
				plans[i] = append(plans[i], rng.Float64() >= 1.0/3)
			}
		}
		var running sync.WaitGroup
		for i, a := range apps {
			running.Go(func() {
				defer GinkgoRecover()
				for n, good := range plans[i] {
					a.release(ctx, n+1, good, 4*time.Minute)
				}
			})
		}
		done := make(chan struct{})
		go func() { running.Wait(); close(done) }()

		By("killing the manager, also right after its N-th write, freezing etcd and kube-apiserver, and restarting kube-apiserver, until the last rollout ends")
		var f faults
		chaos := rand.New(rand.NewPCG(uint64(seed), 3))
	loop:
		for {
			// Each fault comes once the manager leads again, a moment into its work: a kill
			// before it took over the lease would only hold every rollout up.
			leading := time.Now().Add(30 * time.Second)
			for time.Now().Before(leading) && !manager.leads(ctx) {
				time.Sleep(100 * time.Millisecond)
			}
			select {
			case <-done:
				break loop
			case <-ctx.Done():
				break loop
			case <-time.After(time.Duration(500+chaos.IntN(3500)) * time.Millisecond):
			}
			p := chaos.Float64()
			if f.count() < len(everyFaultOnce) {
				p = everyFaultOnce[f.count()] // whatever the seed, each kind of fault at least once
			}
			switch {
			case p < 0.45:
				manager.kill(0)
				f.Kills++
			case p < 0.75:
				// The next process dies right after one of its first writes: between the
				// status and the routes, the routes and the copies, a post and its record.
				manager.kill(1 + chaos.IntN(20))
				f.Kills++
				f.KillsAtAWrite++
			case p < 0.88:
				Expect(stack.FreezeEtcd(time.Duration(1000+chaos.IntN(2000)) * time.Millisecond)).To(Succeed())
				f.EtcdFreezes++
			case p < 0.94:
				Expect(stack.FreezeAPIServer(time.Duration(1000+chaos.IntN(2000)) * time.Millisecond)).To(Succeed())
				f.APIServerFreezes++
			default:
				// Down for a moment, then up again: every connection and watch breaks.
				Expect(stack.RestartAPIServer(time.Duration(chaos.IntN(2000)) * time.Millisecond)).To(Succeed())
				f.APIServerRestarts++
			}
		}

		By("letting the notifications drain, then counting")
		t := expectZeroTally(ctx, rec, apps, 2*time.Minute)
		starts, _, selfKills := manager.counts()
		summary := fmt.Sprintf("%s; manager starts %d, kills %d (%d of them arming a kill right after the next process's N-th write; %d processes died on their own), leader changes %d, etcd freezes %d, kube-apiserver freezes %d, kube-apiserver restarts %d",
			t.counts(), starts, f.Kills, f.KillsAtAWrite, selfKills, rec.leaderChanges(), f.EtcdFreezes, f.APIServerFreezes, f.APIServerRestarts)
		AddReportEntry("chaos", summary)
		GinkgoWriter.Println("chaos:", summary)
		fmt.Println("chaos:", summary)
		Expect(t.Rollouts).To(BeNumerically(">=", *rolloutsFlag))
		Expect(f.Kills).To(BeNumerically(">", 0), "the run killed nothing")
	}, NodeTimeout(140*time.Minute)) // make chaos's go test -timeout is 150m
})
