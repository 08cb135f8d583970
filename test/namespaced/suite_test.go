// Package namespaced_test installs config/namespaced on the local stack, as a team that may
// not run a cluster-wide controller would, and runs the manager binary with nothing but the
// rights of its ServiceAccount there: RoleBindings in the namespace it watches, and the
// cluster-wide right to ask who a metrics scraper is.
package namespaced_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"fledge.dev/fledge/test/cluster"
)

func TestNamespaced(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the local stack: make test runs it, make test-unit does not")
	}
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
	RunSpecs(t, "Namespace-scoped install")
}

var (
	stack   *cluster.Cluster
	k8s     client.Client
	manager *cluster.Process
)

var _ = BeforeSuite(func(ctx context.Context) {
	ctrl.SetLogger(zap.New(zap.WriteTo(GinkgoWriter)))
	root, err := cluster.RepoRoot()
	Expect(err).NotTo(HaveOccurred())
	dir, err := os.MkdirTemp("", "fledge-namespaced-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, dir)
	binary := filepath.Join(dir, "fledge-manager")
	built := cluster.BuildManager(binary, nil)

	stack, err = cluster.Start(ctx, cluster.Options{Workloads: true, Install: "namespaced"})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(stack.Stop)
	k8s = stack.Client
	kubeconfig, err := stack.ManagerKubeconfig(ctx)
	Expect(err).NotTo(HaveOccurred())
	work := filepath.Join(stack.Dir, "namespaced")
	Expect(os.MkdirAll(work, 0o700)).To(Succeed())

	// The flags of config/namespaced's Deployment, then what differs outside a pod.
	rendered, err := exec.CommandContext(ctx, stack.Assets.Kubectl(), "kustomize", filepath.Join(root, "config", "namespaced")).Output()
	Expect(err).NotTo(HaveOccurred())
	objs, err := cluster.DecodeObjects(rendered)
	Expect(err).NotTo(HaveOccurred())
	var flags []string
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			flags, _, _ = unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
		}
	}
	Expect(flags).To(ContainElement("--watch-namespaces=" + cluster.WatchedNamespace))
	Eventually(built).WithContext(ctx).WithTimeout(9 * time.Minute).Should(Receive(Succeed()))
	manager, err = cluster.StartProcess(work, "manager", binary, append(flags,
		"--kubeconfig="+kubeconfig,
		"--metrics-bind-address=0", "--health-probe-bind-address=0",
		"--leader-election-namespace="+cluster.ManagerNamespace,
	)...)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { Expect(manager.Stop(30 * time.Second)).To(Succeed()) })
}, NodeTimeout(10*time.Minute))

var _ = AfterEach(func() {
	if CurrentSpecReport().Failed() && manager != nil {
		GinkgoWriter.Printf("The end of the manager's log:\n%s\n", manager.LogTail(60))
	}
})
