// Package e2e runs Fledge end to end on the local stack: the real control plane with kwok
// nodes, the mesh simulator sending traffic through the VirtualServices Fledge writes, a real
// Prometheus scraping the simulator, and the Fledge manager judging on Prometheus. What the
// specs assert is seen through that traffic and those metrics.
package e2e_test

import (
	"context"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"fledge.dev/fledge/analysis"
	"fledge.dev/fledge/controllers"
	"fledge.dev/fledge/test/cluster"
	"fledge.dev/fledge/test/istioxds"
	"fledge.dev/fledge/test/meshsim"
)

func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the local stack: make test runs it, make test-unit does not")
	}
	RegisterFailHandler(Fail)
	// Everything here is asynchronous on a shared, sometimes busy machine: a wait that does
	// not say how long gets half a minute, not Gomega's one second.
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
	RunSpecs(t, "Fledge end to end")
}

var (
	stack *cluster.Cluster
	k8s   client.Client
	mesh  *meshsim.Sim
	prom  *cluster.Prometheus
	query analysis.Querier
	// xds reads istiod's routes as its sidecars get them.
	xds *istioxds.Client

	trafficMu sync.Mutex
	traffic   = map[string]meshsim.Mix{}
)

var _ = BeforeSuite(func(ctx context.Context) {
	ctrl.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	var err error
	stack, err = cluster.Start(ctx, cluster.Options{Workloads: true, Istio: true})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(stack.Stop)
	k8s = stack.Client

	xds, err = istioxds.Dial(stack.IstiodXDSAddress)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(xds.Close)
	// The simulated sidecars route by what istiod sends them, as Envoy does.
	mesh, err = meshsim.Start(context.Background(), meshsim.Options{Config: stack.Config, Seed: 1, Istiod: xds})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(mesh.Stop)

	prom, err = cluster.StartPrometheus(ctx, cluster.PrometheusOptions{Targets: []string{mesh.MetricsAddress}})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(prom.Stop)
	query, err = analysis.NewPrometheus(analysis.PrometheusOptions{Address: prom.URL})
	Expect(err).NotTo(HaveOccurred())

	mgr, err := stack.NewManager(ctx, ctrl.Options{
		Scheme: stack.Scheme, Cache: controllers.CacheOptions(),
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
	})
	Expect(err).NotTo(HaveOccurred())
	mgrCtx, stop := context.WithCancel(context.Background())
	checker := &analysis.Analyzer{Reader: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Clock: clock.RealClock{}, DefaultAddress: prom.URL}
	Expect(controllers.Setup(mgrCtx, mgr, controllers.Options{Checker: checker, Clock: clock.RealClock{}, MaxConcurrentReconciles: 4})).To(Succeed())
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		Expect(mgr.Start(mgrCtx)).To(Succeed())
	}()
	DeferCleanup(func() {
		stop()
		Eventually(done).WithTimeout(30 * time.Second).Should(BeClosed())
	})

	watcher, err := client.NewWithWatch(stack.Config, client.Options{Scheme: stack.Scheme})
	Expect(err).NotTo(HaveOccurred())
	analyzeCtx, stopAnalyzing := context.WithCancel(context.Background())
	DeferCleanup(stopAnalyzing)
	Expect(istioAnalyzers.watch(analyzeCtx, watcher)).To(Succeed())
}, NodeTimeout(5*time.Minute))

// The traffic the checks measured was routed by istiod's own configuration: a client's
// sidecar gets it before the client sends, and a pod's before its first call, so the share
// the simulator routed by its own reading (while a new sidecar waited for istiod) is small.
var _ = AfterSuite(func() {
	byIstiod, byOwnReading := mesh.RoutedBy()
	if byIstiod+byOwnReading == 0 {
		return // the specs run sent no traffic
	}
	GinkgoWriter.Printf("sidecar requests routed by istiod's configuration: %d; by the simulator's own reading: %d\n", byIstiod, byOwnReading)
	Expect(byIstiod).To(BeNumerically(">", 0), "no request was routed by istiod's configuration")
	Expect(float64(byOwnReading)).To(BeNumerically("<=", 0.01*float64(byIstiod+byOwnReading)),
		"%d of %d sidecar requests were routed by the simulator's own reading, not istiod's", byOwnReading, byIstiod+byOwnReading)
})

// Istio's validation runs on every write (the harness's istiod): what it refuses fails the
// manager's write, and what it accepts with a warning fails the spec here.
var _ = AfterEach(func() {
	Expect(stack.TakeManagerWarnings()).To(BeEmpty(), "the API server or istiod warned about what the manager wrote")
})

// sendTraffic makes the simulated clients of namespace send mix (replacing what they sent).
func sendTraffic(namespace string, mix meshsim.Mix) {
	trafficMu.Lock()
	defer trafficMu.Unlock()
	traffic[namespace] = mix
	mixes := make([]meshsim.Mix, 0, len(traffic))
	for _, m := range traffic {
		mixes = append(mixes, m)
	}
	mesh.SetTraffic(mixes)
}
