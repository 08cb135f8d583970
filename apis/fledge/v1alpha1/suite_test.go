package v1alpha1_test

import (
	"context"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"fledge.dev/fledge/test/cluster"
)

// These specs send Fledge objects to a real kube-apiserver with the generated CRDs, so that
// the schema, the defaults and the CEL rules are what is tested, not a copy of them.

func TestAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the local stack: make test runs it, make test-unit does not")
	}
	RegisterFailHandler(Fail)
	RunSpecs(t, "Fledge API admission")
}

var k8s client.Client

var _ = BeforeSuite(func(ctx context.Context) {
	stack, err := cluster.Start(ctx, cluster.Options{})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(stack.Stop)
	k8s = stack.Client
})
