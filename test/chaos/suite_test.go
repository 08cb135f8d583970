// Package chaos_test is Fledge's fault suite. On the local stack (the real control plane with
// kwok nodes, the mesh simulator, a real Prometheus, a fake Slack) it runs many rollouts with
// the manager binary under the rights config/default installs, while it kills the manager at
// random points (SIGKILL, also right after its N-th write to the API server: the binary is
// built with -tags faults), freezes etcd and kube-apiserver, restarts kube-apiserver, and
// freezes a leader past its lease. Every write to every VirtualService and Canary is recorded
// from etcd's own watch, and the
// suite counts what must never happen: a weight that goes back without an abort, a step
// taken twice or skipped, a notification or an event sent twice or lost, a rollout that ends
// other than its metrics call for.
//
// make test runs the short profile (-chaos.rollouts 100); make chaos runs the long one.
package chaos_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/test/cluster"
	"fledge.dev/fledge/test/fakeslack"
	"fledge.dev/fledge/test/meshsim"
)

var (
	rolloutsFlag = flag.Int("chaos.rollouts", 100, "rollouts the fault suite runs in all, under faults")
	appsFlag     = flag.Int("chaos.apps", 10, "applications that roll out at the same time")
	seedFlag     = flag.Int64("chaos.seed", 0, "seed of the faults and of the versions' quality (0: from the clock; the suite prints it)")
	// unfencedFlag checks the suite itself: the managers run without their fence, and the
	// frozen-leader spec must then fail.
	unfencedFlag = flag.Bool("chaos.unfenced", false, "run the managers without their fence (a check that the suite catches a thawed leader's writes; expect failures)")
)

func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the local stack: make test runs it, make test-unit does not")
	}
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(time.Minute)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	RunSpecs(t, "Fault suite")
}

// alertNamespace holds the AlertProvider every Canary of the suite reports to (the
// manager's default provider).
const alertNamespace = "chaos-alerts"

var (
	stack *cluster.Cluster
	k8s   client.Client
	mesh  *meshsim.Sim
	prom  *cluster.Prometheus
	slack *fakeslack.Server
	// work is the suite's folder inside the stack's, so that the reaper finds its managers.
	work string
	// managerBinary is cmd/manager built with -tags faults.
	managerBinary string
	// managerKubeconfig has the identity of the manager's ServiceAccount.
	managerKubeconfig string
)

var _ = BeforeSuite(func(ctx context.Context) {
	ctrl.SetLogger(zap.New(zap.WriteTo(GinkgoWriter)))
	dir, err := os.MkdirTemp("", "fledge-chaos-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, dir)
	managerBinary = filepath.Join(dir, "fledge-manager")
	built := cluster.BuildManager(managerBinary, nil, "-tags", "faults")

	stack, err = cluster.Start(ctx, cluster.Options{Workloads: true})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(stack.Stop)
	// The suite polls many Canaries: a client of its own, not throttled at client-go's 5 qps.
	cfg := rest.CopyConfig(stack.Config)
	cfg.QPS, cfg.Burst = 200, 400
	k8s, err = client.New(cfg, client.Options{Scheme: stack.Scheme})
	Expect(err).NotTo(HaveOccurred())
	work = filepath.Join(stack.Dir, "chaos")
	Expect(os.MkdirAll(work, 0o700)).To(Succeed())

	mesh, err = meshsim.Start(context.Background(), meshsim.Options{Config: stack.Config, Seed: 1})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(mesh.Stop)
	prom, err = cluster.StartPrometheus(ctx, cluster.PrometheusOptions{Targets: []string{mesh.MetricsAddress}})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(prom.Stop)
	slack, err = fakeslack.Start()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(slack.Close)

	managerKubeconfig, err = stack.ManagerKubeconfig(ctx)
	Expect(err).NotTo(HaveOccurred())

	Expect(k8s.Create(ctx, cluster.EnabledNamespace(alertNamespace))).To(Succeed())
	Expect(k8s.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: alertNamespace, Name: "slack"},
		StringData: map[string]string{"token": fakeslack.Token},
	})).To(Succeed())
	Expect(k8s.Create(ctx, &fledgev1alpha1.AlertProvider{
		ObjectMeta: metav1.ObjectMeta{Namespace: alertNamespace, Name: "slack"},
		Spec: fledgev1alpha1.AlertProviderSpec{
			Type: "slack", Channel: fakeslack.Channel,
			BotToken: &fledgev1alpha1.SecretKeyRef{SecretName: "slack", Key: "token"},
		},
	})).To(Succeed())
	Eventually(built).WithContext(ctx).WithTimeout(9 * time.Minute).Should(Receive(Succeed()))
}, NodeTimeout(12*time.Minute))
