package shard_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"fledge.dev/fledge/controllers/fence"
	"fledge.dev/fledge/controllers/shard"
	"fledge.dev/fledge/test/cluster"
)

// Timings short enough for a spec, in the order the manager requires.
const (
	leaseDuration = 3 * time.Second
	renewDeadline = 2 * time.Second
	retryPeriod   = 200 * time.Millisecond
	shardCount    = 8
)

// replica is a coordinator running in this process, whose Lease calls can be frozen.
type replica struct {
	*shard.Coordinator
	gate   *gate
	cancel context.CancelFunc
	done   chan struct{}
}

var replicaSeq int

// startReplica starts a coordinator of the Lease set prefix with count shards.
func startReplica(prefix string, count int) *replica {
	GinkgoHelper()
	return newReplica(prefix, count).run()
}

// newReplica prepares a coordinator without starting it: its identity is known before.
func newReplica(prefix string, count int) *replica {
	replicaSeq++
	g := &gate{open: make(chan struct{})}
	close(g.open)
	r := &replica{gate: g, done: make(chan struct{})}
	r.Coordinator = &shard.Coordinator{
		Leases: gatedLeases{LeasesGetter: leases, gate: g}, Namespace: cluster.ManagerNamespace, Prefix: prefix,
		Identity: fmt.Sprintf("replica-%d_%d", replicaSeq, time.Now().UnixNano()), Member: fmt.Sprintf("%d-%d", replicaSeq, time.Now().UnixNano()),
		Shards: count, LeaseDuration: leaseDuration, RenewDeadline: renewDeadline, RetryPeriod: retryPeriod,
		Log: zap.New(zap.WriteTo(GinkgoWriter)).WithValues("replica", replicaSeq),
	}
	return r
}

func (r *replica) run() *replica {
	GinkgoHelper()
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		defer GinkgoRecover()
		defer close(r.done)
		Expect(r.Start(ctx)).To(Succeed())
	}()
	DeferCleanup(r.stop)
	return r
}

func (r *replica) stop() {
	r.gate.thaw()
	r.cancel()
	Eventually(r.done).Should(BeClosed())
}

// owns tells whether the replica may write for shard s now (its fence lets it through).
func (r *replica) owns(s int) bool {
	return r.Check(fence.ForCanary(context.Background(), keyIn(s, r.Shards))) == nil
}

// keyIn returns a Canary key that falls in shard s.
func keyIn(s, count int) types.NamespacedName {
	for i := 0; ; i++ {
		if key := (types.NamespacedName{Namespace: "shop", Name: fmt.Sprintf("app-%d", i)}); shard.Of(key, count) == s {
			return key
		}
	}
}

// watchExclusion samples the replicas until stopped and fails when two of them could write
// for one shard at the same moment.
func watchExclusion(replicas ...*replica) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var done sync.WaitGroup
	var violation string
	done.Go(func() {
		for ctx.Err() == nil {
			for s := range shardCount {
				var owners []int
				for i, r := range replicas {
					if r.owns(s) {
						owners = append(owners, i)
					}
				}
				if len(owners) > 1 && violation == "" {
					violation = fmt.Sprintf("shard %d owned by replicas %v at once", s, owners)
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
	})
	return func() {
		cancel()
		done.Wait()
		Expect(violation).To(BeEmpty())
	}
}

func heldBy(replicas ...*replica) func() []int {
	return func() []int {
		var all []int
		for _, r := range replicas {
			all = append(all, r.Held()...)
		}
		slices.Sort(all)
		return all
	}
}

func allShards(count int) []int {
	var all []int
	for s := range count {
		all = append(all, s)
	}
	return all
}

var _ = Describe("replicas sharing the Canaries in shards", func() {
	It("take all the shards alone, split them evenly when a second joins, never both owning one, and one that leaves hands its shards over at once", func() {
		prefix := "split"
		a := startReplica(prefix, shardCount)
		Eventually(a.Held).Should(Equal(allShards(shardCount)))

		stop := watchExclusion(a)
		b := startReplica(prefix, shardCount)
		stop()
		stop = watchExclusion(a, b)
		Eventually(func() []int { return []int{len(a.Held()), len(b.Held())} }).Should(Equal([]int{4, 4}))
		Expect(heldBy(a, b)()).To(Equal(allShards(shardCount)))
		want := shard.Assign(shardCount, []string{a.Identity, b.Identity})
		Expect(b.Held()).To(Equal(want[b.Identity]))

		By("stopping one: the other has every shard well within a lease duration")
		stopped := time.Now()
		b.stop()
		Eventually(a.Held).Should(Equal(allShards(shardCount)))
		Expect(time.Since(stopped)).To(BeNumerically("<", leaseDuration), "a replica that leaves hands its shards over; the others need not wait for them to lapse")
		stop()
	})

	It("hand a shard over only once the work begun on it has ended", func() {
		prefix := "drain"
		a := startReplica(prefix, shardCount)
		Eventually(a.Held).Should(Equal(allShards(shardCount)))
		// Which shards a second replica will get is known before it starts: its identity is.
		b := newReplica(prefix, shardCount)
		moving := shard.Assign(shardCount, []string{a.Identity, b.Identity})[b.Identity][0]
		key := keyIn(moving, shardCount)
		done, ok := a.Begin(key)
		Expect(ok).To(BeTrue())

		stop := watchExclusion(a)
		b.run()
		stop()
		stop = watchExclusion(a, b)
		// The other shards move; the busy one stays (and refuses new work) until done.
		Eventually(func() int { return len(b.Held()) }).Should(Equal(3))
		Consistently(func() bool { return b.owns(moving) }).WithTimeout(renewDeadline / 2).Should(BeFalse())
		_, ok = a.Begin(key)
		Expect(ok).To(BeFalse(), "a shard being handed over takes no new work")
		Expect(a.owns(moving)).To(BeTrue(), "the work in flight may still write")
		done()
		Eventually(func() bool { return b.owns(moving) }).Should(BeTrue())
		Expect(a.owns(moving)).To(BeFalse())
		stop()
	})

	It("move a frozen replica's shards within a lease duration, and the frozen one writes nothing when it thaws", func() {
		prefix := "frozen"
		a, b := startReplica(prefix, shardCount), startReplica(prefix, shardCount)
		Eventually(func() []int { return []int{len(a.Held()), len(b.Held())} }).Should(Equal([]int{4, 4}))
		stop := watchExclusion(a, b)

		By("freezing one: its fence shuts within the renew deadline, the other takes its shards after the lease duration")
		frozenShards := a.Held()
		frozen := time.Now()
		a.gate.freeze()
		Eventually(a.Held).WithTimeout(renewDeadline + time.Second).Should(BeEmpty())
		Eventually(b.Held).Should(Equal(allShards(shardCount)))
		Expect(time.Since(frozen)).To(BeNumerically("<", leaseDuration+renewDeadline+time.Second))
		for _, s := range frozenShards {
			Expect(a.owns(s)).To(BeFalse())
		}
		Expect(a.Check(context.Background())).To(HaveOccurred(), "nor may it send what it queued for no Canary in particular (the recorder's Events)")
		Expect(b.Check(context.Background())).To(Succeed())

		By("thawing it: it finds its Leases taken, gives them up, and the two share again")
		a.gate.thaw()
		Eventually(func() []int { return []int{len(a.Held()), len(b.Held())} }).Should(Equal([]int{4, 4}))
		stop()
	})

	It("hold no shard while the replicas disagree on the shard count", func() {
		prefix := "counts"
		a := startReplica(prefix, shardCount)
		Eventually(a.Held).Should(Equal(allShards(shardCount)))
		c := startReplica(prefix, 2*shardCount)
		Eventually(a.Held).Should(BeEmpty())
		Consistently(c.Held).WithTimeout(time.Second).Should(BeEmpty())

		By("the replica with the old count leaves: the new one takes all of its own shards")
		a.stop()
		Eventually(c.Held).Should(Equal(allShards(2 * shardCount)))
	})

	It("delete the member Lease of a replica killed long ago, and keep their own", func(ctx context.Context) {
		prefix := "stale"
		old := metav1.NewMicroTime(time.Now().Add(-time.Hour))
		stale := &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: prefix + "-member-gone", Namespace: cluster.ManagerNamespace,
				Labels: map[string]string{shard.LabelLeaseSet: prefix, shard.LabelLeaseRole: "member"}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptrTo("gone_1"), LeaseDurationSeconds: ptrTo(int32(3)), RenewTime: &old},
		}
		Expect(stack.Client.Create(ctx, stale)).To(Succeed())
		a := startReplica(prefix, shardCount)
		Eventually(a.Held).Should(Equal(allShards(shardCount)), "a dead member takes no share")
		Eventually(func() error {
			_, err := leases.Leases(cluster.ManagerNamespace).Get(ctx, stale.Name, metav1.GetOptions{})
			return err
		}).WithTimeout(leaseDuration + 5*time.Second).Should(MatchError(ContainSubstring("not found")))
		_, err := leases.Leases(cluster.ManagerNamespace).Get(ctx, prefix+"-member-"+a.Member, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
	})
})

func ptrTo[T any](v T) *T { return &v }

// gate blocks every Lease call while frozen, as a stopped process would.
type gate struct {
	mu   sync.Mutex
	open chan struct{}
}

func (g *gate) freeze() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
		g.open = make(chan struct{})
	default:
	}
}

func (g *gate) thaw() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

func (g *gate) wait() {
	g.mu.Lock()
	open := g.open
	g.mu.Unlock()
	<-open
}

type gatedLeases struct {
	coordinationv1client.LeasesGetter
	gate *gate
}

func (l gatedLeases) Leases(namespace string) coordinationv1client.LeaseInterface {
	return gatedLeaseInterface{LeaseInterface: l.LeasesGetter.Leases(namespace), gate: l.gate}
}

type gatedLeaseInterface struct {
	coordinationv1client.LeaseInterface
	gate *gate
}

func (l gatedLeaseInterface) Get(ctx context.Context, name string, opts metav1.GetOptions) (*coordinationv1.Lease, error) {
	l.gate.wait()
	return l.LeaseInterface.Get(ctx, name, opts)
}

func (l gatedLeaseInterface) List(ctx context.Context, opts metav1.ListOptions) (*coordinationv1.LeaseList, error) {
	l.gate.wait()
	return l.LeaseInterface.List(ctx, opts)
}

func (l gatedLeaseInterface) Create(ctx context.Context, lease *coordinationv1.Lease, opts metav1.CreateOptions) (*coordinationv1.Lease, error) {
	l.gate.wait()
	return l.LeaseInterface.Create(ctx, lease, opts)
}

func (l gatedLeaseInterface) Update(ctx context.Context, lease *coordinationv1.Lease, opts metav1.UpdateOptions) (*coordinationv1.Lease, error) {
	l.gate.wait()
	return l.LeaseInterface.Update(ctx, lease, opts)
}

func (l gatedLeaseInterface) Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error {
	l.gate.wait()
	return l.LeaseInterface.Delete(ctx, name, opts)
}
