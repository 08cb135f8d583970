package shard_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"

	"fledge.dev/fledge/controllers/shard"
	"fledge.dev/fledge/test/cluster"
)

// These specs run coordinators against a real API server, as the manager's ServiceAccount
// with the rights config/default gives it.
func TestCoordinator(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the local control plane: make test runs it, make test-unit does not")
	}
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(20 * time.Millisecond)
	RunSpecs(t, "Shard coordinator")
}

var (
	stack  *cluster.Cluster
	leases coordinationv1client.LeasesGetter
)

var _ = BeforeSuite(func(ctx context.Context) {
	var err error
	stack, err = cluster.Start(ctx, cluster.Options{})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(stack.Stop)
	cfg, err := stack.ManagerConfig(ctx)
	Expect(err).NotTo(HaveOccurred())
	// As the manager does: a burst that lets a round's requests go out at once.
	cfg.Burst = shard.RequestsPerRound(2 * shardCount)
	cfg.QPS = float32(cfg.Burst) / float32(retryPeriod.Seconds())
	leases, err = coordinationv1client.NewForConfig(cfg)
	Expect(err).NotTo(HaveOccurred())
})
