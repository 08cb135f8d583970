package analysis_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"fledge.dev/fledge/analysis"
	"fledge.dev/fledge/test/cluster"
	"fledge.dev/fledge/test/istiometrics"
)

// These specs judge metrics on a real Prometheus, which scrapes a small exporter of
// Istio-shaped series whose traffic each spec's namespace describes.

func TestAnalysis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the local stack: make test runs it, make test-unit does not")
	}
	RegisterFailHandler(Fail)
	RunSpecs(t, "Metric analysis on Prometheus")
}

const (
	window         = 10 * time.Second
	promUser       = "fledge"
	promPassword   = "correct horse"
	healthy        = "healthy"
	erroring       = "erroring"
	slow           = "slow"
	quiet          = "quiet"
	broken         = "broken"
	breached       = "breached"
	idle           = "idle"
	canaryWorkload = "web-canary"
	primaryWL      = "web-primary"
)

// web names the workloads the checks measure: Fledge's copies of the Deployment web.
var web = analysis.Workloads{Canary: canaryWorkload, Primary: primaryWL}

var (
	prom, securedProm *cluster.Prometheus
	exporter          *istiometrics.Exporter
)

var _ = BeforeSuite(func(ctx context.Context) {
	var err error
	exporter, err = istiometrics.StartExporter()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(exporter.Stop)

	steady := istiometrics.Traffic{RequestsPerSecond: 20, Latency: 40 * time.Millisecond}
	for _, ns := range []string{healthy, erroring, slow, quiet, broken, breached} {
		exporter.Set(ns, primaryWL, steady)
	}
	exporter.Set(healthy, canaryWorkload, steady)
	exporter.Set(erroring, canaryWorkload, istiometrics.Traffic{RequestsPerSecond: 20, ErrorRate: 0.1, Latency: 40 * time.Millisecond})
	exporter.Set(slow, canaryWorkload, istiometrics.Traffic{RequestsPerSecond: 20, Latency: 400 * time.Millisecond})
	exporter.Set(quiet, canaryWorkload, istiometrics.Traffic{RequestsPerSecond: 0.5, Latency: 40 * time.Millisecond})
	// Every answer a 5xx: the workload has no series of any other code.
	exporter.Set(broken, canaryWorkload, istiometrics.Traffic{RequestsPerSecond: 20, ErrorRate: 1, Latency: 40 * time.Millisecond})
	// Every answer slower than any bucket below 10 s.
	exporter.Set(breached, canaryWorkload, istiometrics.Traffic{RequestsPerSecond: 20, Latency: 5 * time.Second})

	prom, err = cluster.StartPrometheus(ctx, cluster.PrometheusOptions{Targets: []string{exporter.Address}})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(prom.Stop)
	securedProm, err = cluster.StartPrometheus(ctx, cluster.PrometheusOptions{Targets: []string{exporter.Address}, Username: promUser, Password: promPassword})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(securedProm.Stop)

	By("waiting until a whole window of traffic has been scraped")
	q, err := analysis.NewPrometheus(analysis.PrometheusOptions{Address: prom.URL})
	Expect(err).NotTo(HaveOccurred())
	start := time.Now()
	Eventually(func(g Gomega) {
		v, err := q.Query(ctx, `count(count_over_time(istio_requests_total{destination_workload_namespace="healthy"}[1m]) >= 5)`, time.Now())
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(v).To(BeNumerically(">=", 2))
	}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(500 * time.Millisecond).Should(Succeed())
	time.Sleep(window + 2*time.Second - time.Since(start))
}, NodeTimeout(2*time.Minute))
