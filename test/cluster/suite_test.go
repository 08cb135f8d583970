package cluster_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"fledge.dev/fledge/test/cluster"
)

func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the local stack: make test runs it, make test-unit does not")
	}
	RegisterFailHandler(Fail)
	// Everything here is asynchronous on a shared, sometimes busy machine: a wait that does
	// not say how long gets half a minute, not Gomega's one second.
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
	RunSpecs(t, "Local control plane")
}

var stack *cluster.Cluster

var _ = BeforeSuite(func(ctx context.Context) {
	var err error
	stack, err = cluster.Start(ctx, cluster.Options{Workloads: true, Nodes: 2})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(stack.Stop)
})
