package shard

import (
	"context"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	shardsHeld = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "fledge_shards_held",
		Help: "Shards of Canaries this replica holds the Lease of.",
	})
	leaseWrites = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "fledge_shard_lease_writes_total",
		Help: "Writes of shard and member Leases this replica sent (creates, renewals, hand-overs, deletions).",
	})
)

// registerMetrics serves the series once a coordinator starts: a manager that elects a
// leader has no shards to show.
var registerMetrics = sync.OnceFunc(func() {
	ctrlmetrics.Registry.MustRegister(shardsHeld, leaseWrites)
})

// countedLeases counts the writes of the Leases, for fledge_shard_lease_writes_total.
type countedLeases struct {
	coordinationv1client.LeaseInterface
}

func (l countedLeases) Create(ctx context.Context, lease *coordinationv1.Lease, opts metav1.CreateOptions) (*coordinationv1.Lease, error) {
	leaseWrites.Inc()
	return l.LeaseInterface.Create(ctx, lease, opts)
}

func (l countedLeases) Update(ctx context.Context, lease *coordinationv1.Lease, opts metav1.UpdateOptions) (*coordinationv1.Lease, error) {
	leaseWrites.Inc()
	return l.LeaseInterface.Update(ctx, lease, opts)
}

func (l countedLeases) Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error {
	leaseWrites.Inc()
	return l.LeaseInterface.Delete(ctx, name, opts)
}

// leases is the Lease client of the namespace, counted.
func (c *Coordinator) leases() coordinationv1client.LeaseInterface {
	return countedLeases{c.Leases.Leases(c.Namespace)}
}
