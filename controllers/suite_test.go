package controllers_test

import (
	"context"
	"io"
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
	"fledge.dev/fledge/notifiers"
	"fledge.dev/fledge/test/cluster"
	"fledge.dev/fledge/test/fakeslack"
)

// These specs run the Fledge manager against a real control plane: kube-apiserver with the
// Fledge and Istio CRDs, kube-controller-manager and kube-scheduler, and kwok nodes on which
// the Deployments really roll out. The metric checks are a test double (the analysis package
// has its own suite against a real Prometheus).

func TestControllers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the local stack: make test runs it, make test-unit does not")
	}
	RegisterFailHandler(Fail)
	// Everything here is asynchronous on a shared, sometimes busy machine: a wait that does
	// not say how long gets half a minute, not Gomega's one second.
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
	RunSpecs(t, "Canary controller")
}

// suiteCheckWorkers is how many checks the suite's manager runs at once (one reconcile
// worker): few, so that a spec can hold all of them.
const suiteCheckWorkers = 2

var (
	// slackAPIURL is where the manager's Slack bot sends (a local fake Slack in the alert specs).
	slackAPIURL string
	stack       *cluster.Cluster
	k8s         client.Client
	checks      = &scriptedChecker{}
	manager     *runningManager
	// notificationRetry bounds how long the managers retry a notification.
	notificationRetry = notifiers.RetryPolicy{Initial: 50 * time.Millisecond, Max: time.Second, GiveUpAfter: 20 * time.Second}
)

var _ = BeforeSuite(func(ctx context.Context) {
	ctrl.SetLogger(zap.New(zap.WriteTo(io.MultiWriter(GinkgoWriter, managerLog)), zap.UseDevMode(true)))
	var err error
	stack, err = cluster.Start(ctx, cluster.Options{Workloads: true, Istio: true})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(stack.Stop)
	k8s = stack.Client
	fakeSlack, err = fakeslack.Start()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(fakeSlack.Close)
	slackAPIURL = fakeSlack.URL()
	manager = startManager()
	DeferCleanup(func() { manager.stop() })
})

// runningManager is a Fledge manager running in this process, as `cmd/manager` runs it.
type runningManager struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// startManager starts a manager with the suite's options, changed by tune when given.
func startManager(tune ...func(*controllers.Options)) *runningManager {
	GinkgoHelper()
	mgr, err := stack.NewManager(context.Background(), ctrl.Options{
		Scheme:                 stack.Scheme,
		Cache:                  controllers.CacheOptions(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Several managers start and stop in one process (the restart specs).
		Controller: config.Controller{SkipNameValidation: ptrTo(true)},
	}, managerWrites.wrap) // what the manager writes, for the specs that count it
	Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithCancel(context.Background())
	opts := controllers.Options{
		Checker: checks, Clock: clock.RealClock{}, ClusterName: "test",
		SlackAPIURL:       slackAPIURL,
		NotificationRetry: notificationRetry,
		CheckWorkers:      suiteCheckWorkers,
	}
	for _, t := range tune {
		t(&opts)
	}
	Expect(controllers.Setup(ctx, mgr, opts)).To(Succeed())
	m := &runningManager{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer GinkgoRecover()
		defer close(m.done)
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	return m
}

func (m *runningManager) stop() {
	m.cancel()
	Eventually(m.done).WithTimeout(30 * time.Second).Should(BeClosed())
}

// scriptedChecker is the test double of the metric checks: each canary passes unless a spec
// scripts another verdict for it.
type scriptedChecker struct {
	mu       sync.Mutex
	verdicts map[string]analysis.Result
	runs     map[string]int
	// real hands the canaries of a namespace to a real checker.
	real map[string]analysis.Checker
}

func (s *scriptedChecker) Check(ctx context.Context, canary *fledgev1alpha1.Canary, w analysis.Workloads) analysis.Result {
	s.mu.Lock()
	real := s.real[canary.Namespace]
	s.mu.Unlock()
	if real != nil {
		return real.Check(ctx, canary, w)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := canary.Namespace + "/" + canary.Name
	if s.runs == nil {
		s.runs = map[string]int{}
	}
	s.runs[key]++
	if r, ok := s.verdicts[key]; ok {
		return r
	}
	return analysis.Result{Verdict: analysis.Pass, Message: "all checks passed"}
}

func (s *scriptedChecker) Preflight(ctx context.Context, canary *fledgev1alpha1.Canary) error {
	s.mu.Lock()
	real := s.real[canary.Namespace]
	s.mu.Unlock()
	if real != nil {
		return real.Preflight(ctx, canary)
	}
	return nil
}

// useReal makes the canaries of namespace face a real checker.
func (s *scriptedChecker) useReal(namespace string, c analysis.Checker) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.real == nil {
		s.real = map[string]analysis.Checker{}
	}
	s.real[namespace] = c
}

func (s *scriptedChecker) script(canary *fledgev1alpha1.Canary, r analysis.Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.verdicts == nil {
		s.verdicts = map[string]analysis.Result{}
	}
	s.verdicts[canary.Namespace+"/"+canary.Name] = r
}

func ptrTo[T any](v T) *T { return &v }
