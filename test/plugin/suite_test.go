// Package plugin_test runs kubectl-fledge the way people do: the real kubectl finds the plugin
// on PATH and runs it against a real control plane (kube-apiserver, kube-controller-manager,
// kwok nodes) where the Fledge manager runs in this process. The metric checks are a test
// double, scripted per canary.
package plugin_test

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"fledge.dev/fledge/analysis"
	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers"
	"fledge.dev/fledge/test/cluster"
)

// update rewrites the golden files under testdata: go test ./test/plugin -update
var update = flag.Bool("update", false, "rewrite the golden files of the plugin's output")

func TestPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the local stack: make test runs it, make test-unit does not")
	}
	RegisterFailHandler(Fail)
	// Everything here is asynchronous on a shared, sometimes busy machine: a wait that does
	// not say how long gets half a minute, not Gomega's one second.
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
	RunSpecs(t, "kubectl fledge")
}

var (
	stack  *cluster.Cluster
	k8s    client.WithWatch
	checks = &scriptedChecker{}
	// pluginDir holds kubectl-fledge (and its completion helper); it goes first on PATH.
	pluginDir string
)

var _ = BeforeSuite(func(ctx context.Context) {
	ctrl.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	pluginDir = buildPlugin()

	var err error
	stack, err = cluster.Start(ctx, cluster.Options{Workloads: true, Nodes: 2, Istio: true})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(stack.Stop)
	k8s, err = client.NewWithWatch(stack.Config, client.Options{Scheme: stack.Scheme})
	Expect(err).NotTo(HaveOccurred())
	startManager()
})

// buildPlugin builds kubectl-fledge into a temporary folder, with kubectl's completion
// helper for plugins (kubectl_complete-fledge) beside it.
func buildPlugin() string {
	GinkgoHelper()
	root, err := cluster.RepoRoot()
	Expect(err).NotTo(HaveOccurred())
	dir := GinkgoT().TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "kubectl-fledge"), "./cmd/kubectl-fledge")
	build.Dir = root
	out, err := build.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "go build ./cmd/kubectl-fledge:\n%s", out)
	helper := "#!/bin/sh\nexec kubectl-fledge __complete \"$@\"\n"
	Expect(os.WriteFile(filepath.Join(dir, "kubectl_complete-fledge"), []byte(helper), 0o755)).To(Succeed())
	return dir
}

// startManager runs the Fledge manager in this process, as cmd/manager runs it.
func startManager() {
	GinkgoHelper()
	mgr, err := stack.NewManager(context.Background(), ctrl.Options{
		Scheme:                 stack.Scheme,
		Cache:                  controllers.CacheOptions(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptrTo(true)},
	})
	Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithCancel(context.Background())
	Expect(controllers.Setup(ctx, mgr, controllers.Options{Checker: checks, Clock: clock.RealClock{}, ClusterName: "test"})).To(Succeed())
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	DeferCleanup(func() {
		cancel()
		Eventually(done).WithTimeout(30 * time.Second).Should(BeClosed())
	})
}

// scriptedChecker is the test double of the metric checks: each canary passes, without
// metric values, unless a spec scripts another result for it.
type scriptedChecker struct {
	mu      sync.Mutex
	results map[string]analysis.Result
}

func (s *scriptedChecker) Check(_ context.Context, canary *fledgev1alpha1.Canary, _ analysis.Workloads) analysis.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.results[canary.Namespace+"/"+canary.Name]; ok {
		return r
	}
	return analysis.Result{Verdict: analysis.Pass, Message: "all checks passed"}
}

func (s *scriptedChecker) Preflight(context.Context, *fledgev1alpha1.Canary) error { return nil }

func (s *scriptedChecker) script(namespace, name string, r analysis.Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.results == nil {
		s.results = map[string]analysis.Result{}
	}
	s.results[namespace+"/"+name] = r
}

func ptrTo[T any](v T) *T { return &v }
