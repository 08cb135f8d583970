package controllers_test

import (
	"context"
	"net"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/clock"

	"fledge.dev/fledge/analysis"
	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/test/cluster"
)

// silentServer accepts connections, reads what comes, and never answers: a Prometheus or a
// webhook that hangs. It counts the connections its clients hold open.
type silentServer struct {
	listener net.Listener
	mu       sync.Mutex
	conns    []net.Conn
	// open and mostOpen are the connections open now, and the most that were at once.
	open, mostOpen int
}

func startSilentServer() *silentServer {
	GinkgoHelper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	s := &silentServer{listener: l}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.open++
			s.mostOpen = max(s.mostOpen, s.open)
			s.mu.Unlock()
			go s.drain(c)
		}
	}()
	return s
}

// drain reads c until its client closes it (or gives up on it).
func (s *silentServer) drain(c net.Conn) {
	buf := make([]byte, 4096)
	for {
		if _, err := c.Read(buf); err != nil {
			break
		}
	}
	s.mu.Lock()
	s.open--
	s.mu.Unlock()
}

// connections are the connections open now, and the most that were open at once.
func (s *silentServer) connections() (open, most int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open, s.mostOpen
}

func (s *silentServer) url() string { return "http://" + s.listener.Addr().String() }

func (s *silentServer) accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *silentServer) close() {
	s.listener.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
}

var _ = Describe("a metrics provider that accepts and never answers", func() {
	It("holds only the checks that use it: an abort of another Canary takes effect at once", func(ctx context.Context) {
		silent := startSilentServer()
		DeferCleanup(silent.close)
		hanging := analysis.Analyzer{Reader: k8s, APIReader: k8s, Clock: clock.RealClock{}, DefaultAddress: "http://" + silent.listener.Addr().String()}
		minimum := 99.0
		interval := 10 * time.Second

		By("rolling out an unrelated Canary to its first step")
		other := newApp(ctx, withInterval(time.Hour))
		other.setImage(ctx, "example.com/web:v2")
		other.waitWeight(ctx, 20)

		By("rolling out more Canaries judged on the hanging provider than there are check workers")
		var stuck []*app
		for range suiteCheckWorkers + 2 {
			ns := "hanging-" + rand.String(5)
			Expect(k8s.Create(ctx, cluster.EnabledNamespace(ns))).To(Succeed())
			checks.useReal(ns, &hanging)
			a := newAppIn(ctx, ns, withInterval(interval), canaryOption(func(c *fledgev1alpha1.Canary) {
				c.Spec.Analysis.Metrics = []fledgev1alpha1.CanaryMetric{{
					Name: "success-rate", Builtin: analysis.BuiltinSuccessRate,
					ThresholdRange: &fledgev1alpha1.ThresholdRange{Min: &minimum},
				}}
			}))
			a.setImage(ctx, "example.com/web:v2")
			stuck = append(stuck, a)
		}
		for _, a := range stuck {
			a.waitWeight(ctx, 20)
		}
		// Every worker is waiting on the provider once its checks fell due.
		Eventually(silent.accepted).WithContext(ctx).WithTimeout(2 * interval).Should(BeNumerically(">=", suiteCheckWorkers))

		By("aborting the unrelated Canary while every check worker hangs")
		start := time.Now()
		Expect(other.request(ctx, fledgev1alpha1.RequestAbort).Accepted).To(BeTrue())
		other.waitPhase(ctx, fledgev1alpha1.PhaseFailed)
		took := time.Since(start)
		AddReportEntry("abort while the checks hang", took.String())
		Expect(took).To(BeNumerically("<", interval/2), "the abort waited on checks that hang for %s", interval)

		By("failing the checks that hung, once their interval is over")
		Eventually(func() string {
			c := stuck[0].get(ctx)
			if cond := apimeta.FindStatusCondition(c.Status.Conditions, fledgev1alpha1.ConditionMetricsReady); cond != nil {
				return cond.Reason
			}
			return ""
		}).WithContext(ctx).WithTimeout(3 * interval).Should(BeElementOf(fledgev1alpha1.ReasonChecksTimedOut, fledgev1alpha1.ReasonChecksQueued))
	})
})
