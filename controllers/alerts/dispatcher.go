package alerts

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"fledge.dev/fledge/controllers/fence"
	"fledge.dev/fledge/notifiers"
)

var (
	sentTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fledge_notifications_sent_total", Help: "Notifications delivered, by alert provider.",
	}, []string{"provider"})
	failedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fledge_notifications_failed_total", Help: "Notifications given up on, by alert provider.",
	}, []string{"provider"})
	retriesTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fledge_notifications_retried_total", Help: "Attempts at sending a notification after its first, by alert provider.",
	}, []string{"provider"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(sentTotal, failedTotal, retriesTotal)
}

// Defaults of the Dispatcher's bounds.
const (
	// DefaultWorkers is how many deliveries run at once: enough that the providers that hang,
	// PerProviderWorkers each, leave workers to the others.
	DefaultWorkers = 16
	// DefaultPerProviderWorkers is how many workers one AlertProvider may hold in calls to it
	// at once.
	DefaultPerProviderWorkers = 2
)

// Dispatcher delivers the outboxes of Canaries. It runs beside the reconcilers, on the leader
// only. Its unit of work is one provider of one Canary (an item): each item is handled by one
// worker at a time, in the order of the outbox, and no provider waits for another, so a
// provider that hangs or fails delays its own messages only.
type Dispatcher struct {
	// Client reads AlertProviders and Canaries' alerts from the cache, and patches Canary status.
	Client client.Client
	// APIReader reads the Canary as it is now (its outbox may be newer than the cache) and
	// the Secrets of AlertProviders.
	APIReader client.Reader
	Events    events.EventRecorder

	// ClusterName names the cluster in messages.
	ClusterName string
	// DefaultProvider (namespace/name) serves Canaries that name none.
	DefaultProvider string
	// SlackAPIURL overrides Slack's Web API address (tests).
	SlackAPIURL string
	// Retry bounds how long a notification is retried before it is given up.
	Retry notifiers.RetryPolicy
	// Workers deliver that many items at once (DefaultWorkers when zero).
	Workers int
	// PerProviderWorkers bounds the workers one AlertProvider holds in calls to it at once,
	// whatever the number of its Canaries (DefaultPerProviderWorkers when zero). The bound is on
	// the calls only, not on reading and recording around them, so that it holds back a
	// provider that is slow, not one that is merely busy; the items of a provider at its bound
	// wait in line, not in a worker, and each slot given back goes to the next in line.
	PerProviderWorkers int
	// Fence is asked right before every send; nil allows every send. See Fence.
	Fence fence.Fence
	// Owner, when the Canaries are shared among replicas (package shard), says whether this
	// replica owns a Canary: the others' items are dropped, not sent twice.
	Owner Owner
	// Clock tells the age of a notification.
	Clock clock.PassiveClock

	queue workqueue.TypedRateLimitingInterface[item]
	busy  slots
	owed  owedProgress
}

// Owner tells whether this replica owns a Canary, and holds the hand-over of its shard while
// work on it is in flight.
type Owner interface {
	Begin(key types.NamespacedName) (done func(), ok bool)
}

// item is the unit of work: the deliveries of one Canary to one of its providers (namespace/
// name, as in TargetsOf). An empty Provider stands for all the Canary's providers: the worker
// enqueues one item for each.
type item struct {
	Canary   types.NamespacedName
	Provider string
}

// Enqueue asks for the outbox of a Canary to be delivered, to each of its providers apart.
func (d *Dispatcher) Enqueue(key types.NamespacedName) {
	d.queue.Add(item{Canary: key})
}

// retryBackoffBase and retryBackoffMax bound how long an item that keeps failing (the API server away, the fence
// shut, a provider down) waits before it is tried again. controller-runtime's default goes up
// to 16 minutes and only comes down when the item succeeds, so after a stormy spell an item
// could wait longer than a notification is meant to live: notifications are due within
// seconds, and the retry bound (Retry) says when to give one up, not the queue.
const (
	retryBackoffBase = 50 * time.Millisecond
	retryBackoffMax  = 30 * time.Second
)

// NewQueue prepares the queue; call it before Enqueue and Start.
func (d *Dispatcher) NewQueue() {
	d.queue = workqueue.NewTypedRateLimitingQueueWithConfig(retryLimiter(),
		workqueue.TypedRateLimitingQueueConfig[item]{Name: "alerts"})
}

// retryLimiter is the queue's: per item exponential up to retryBackoffMax, overall a bucket.
func retryLimiter() workqueue.TypedRateLimiter[item] {
	return workqueue.NewTypedMaxOfRateLimiter(
		workqueue.NewTypedItemExponentialFailureRateLimiter[item](retryBackoffBase, retryBackoffMax),
		// As controller-runtime's default: all items together, 10 a second, bursts of 100.
		&workqueue.TypedBucketRateLimiter[item]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
	)
}

// NeedLeaderElection: only the leader sends, so that replicas never send twice (with shards,
// the manager elects no leader, and each replica sends for the Canaries it owns).
func (d *Dispatcher) NeedLeaderElection() bool { return true }

// Start runs the workers until ctx ends.
func (d *Dispatcher) Start(ctx context.Context) error {
	workers := d.Workers
	if workers <= 0 {
		workers = DefaultWorkers
	}
	var running sync.WaitGroup
	for range workers {
		running.Go(func() { d.work(ctx) })
	}
	<-ctx.Done()
	d.queue.ShutDown()
	// Return only once no worker talks to Slack any more: a new leader may start right after.
	running.Wait()
	return nil
}

func (d *Dispatcher) work(ctx context.Context) {
	for {
		it, shutdown := d.queue.Get()
		if shutdown {
			return
		}
		d.process(ctx, it)
		d.queue.Done(it)
	}
}

func (d *Dispatcher) process(ctx context.Context, it item) {
	if d.Owner != nil {
		done, ok := d.Owner.Begin(it.Canary)
		if !ok {
			// Another replica owns the Canary now, and delivers what its status still owes.
			d.queue.Forget(it)
			return
		}
		defer done()
	}
	ctx = fence.ForCanary(ctx, it.Canary)
	if it.Provider == "" {
		d.finish(ctx, it, d.fanOut(ctx, it.Canary))
		return
	}
	d.finish(ctx, it, d.deliver(ctx, it))
}

// acquireCall takes one of the provider's call slots for it, or puts it in the provider's line
// and says errProviderBusy: the item comes back when a slot is free.
func (d *Dispatcher) acquireCall(it item) error {
	if !d.busy.acquireOrWait(it.Provider, d.perProviderWorkers(), it) {
		return errProviderBusy
	}
	return nil
}

// releaseCall gives the slot back and queues the item that waited longest for one.
func (d *Dispatcher) releaseCall(provider string) {
	if next, ok := d.busy.release(provider); ok {
		d.queue.Add(next)
	}
}

// errProviderBusy: the provider has all its call slots in use (it hangs, say); the item waits
// in its line, not in a worker.
var errProviderBusy = errors.New("the alert provider has all its calls in flight")

func (d *Dispatcher) finish(ctx context.Context, it item, err error) {
	var fenced *fencedError
	switch {
	case err == nil:
		d.queue.Forget(it)
	case errors.Is(err, errProviderBusy):
		// In its provider's line: releaseCall queues it again.
	case errors.Is(err, errStale):
		// Someone else moved the Canary on: read it again at once.
		d.queue.Forget(it)
		d.queue.Add(it)
	case ctx.Err() != nil:
		// Shutting down is not giving up: the next leader delivers it.
	case errors.As(err, &fenced):
		log.FromContext(ctx).Info("not sending notifications: "+err.Error(), "canary", it.Canary, "provider", it.Provider)
		d.queue.AddRateLimited(it)
	default:
		log.FromContext(ctx).Error(err, "deliver notifications", "canary", it.Canary, "provider", it.Provider)
		d.queue.AddRateLimited(it)
	}
}

func (d *Dispatcher) perProviderWorkers() int {
	if d.PerProviderWorkers <= 0 {
		return DefaultPerProviderWorkers
	}
	return d.PerProviderWorkers
}
