package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/clock"

	"fledge.dev/fledge/analysis"
	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/test/cluster"
	"fledge.dev/fledge/test/istiometrics"
)

var _ = Describe("a canary judged on Prometheus", Ordered, func() {
	var (
		exporter *istiometrics.Exporter
		prom     *cluster.Prometheus
	)
	BeforeAll(func(ctx context.Context) {
		var err error
		exporter, err = istiometrics.StartExporter()
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(exporter.Stop)
		prom, err = cluster.StartPrometheus(ctx, cluster.PrometheusOptions{Targets: []string{exporter.Address}})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(prom.Stop)
	})

	// judgedApp is an app whose checks run on the real Prometheus: a success rate of at least
	// 99 % over a 5 s window, aborting at the first failed check.
	judgedApp := func(ctx context.Context, interval time.Duration) *app {
		ns := "judged-" + rand.String(5)
		Expect(k8s.Create(ctx, cluster.EnabledNamespace(ns))).To(Succeed())
		checks.useReal(ns, &analysis.Analyzer{Reader: k8s, APIReader: k8s, Clock: clock.RealClock{}, DefaultAddress: prom.URL})
		healthy := istiometrics.Traffic{RequestsPerSecond: 20, Latency: 30 * time.Millisecond}
		exporter.Set(ns, "web-primary", healthy)
		exporter.Set(ns, "web-canary", healthy)
		minimum := 99.0
		return newAppIn(ctx, ns, withInterval(interval), withThreshold(1), canaryOption(func(c *fledgev1alpha1.Canary) {
			c.Spec.Analysis.Metrics = []fledgev1alpha1.CanaryMetric{{
				Name: "success-rate", Builtin: analysis.BuiltinSuccessRate,
				ThresholdRange: &fledgev1alpha1.ThresholdRange{Min: &minimum},
				Interval:       &metav1.Duration{Duration: 5 * time.Second},
			}}
		}))
	}

	It("is promoted when its metrics pass, with their values in status", func(ctx context.Context) {
		a := judgedApp(ctx, 2*time.Second)
		time.Sleep(6 * time.Second) // a whole window of scraped traffic
		a.setImage(ctx, "example.com/web:v2")
		c := a.waitPhase(ctx, fledgev1alpha1.PhaseSucceeded)
		Expect(c.Status.Metrics).To(HaveLen(1))
		Expect(c.Status.Metrics[0].Verdict).To(Equal("Pass"))
		Expect(*c.Status.Metrics[0].Value).To(BeNumerically("==", 100))
		Expect(meta(c, fledgev1alpha1.ConditionMetricsReady).Status).To(Equal(metav1.ConditionTrue))
	})

	It("is aborted within one interval of a breach", func(ctx context.Context) {
		const interval = 3 * time.Second
		a := judgedApp(ctx, interval)
		time.Sleep(6 * time.Second)
		a.setImage(ctx, "example.com/web:v2")
		a.waitWeight(ctx, 20)
		exporter.Set(a.ns, "web-canary", istiometrics.Traffic{RequestsPerSecond: 20, ErrorRate: 0.5, Latency: 30 * time.Millisecond})
		breach := time.Now()

		c := a.waitPhase(ctx, fledgev1alpha1.PhaseFailed)
		// The breach shows in the next check, at most one interval later (and one scrape).
		Expect(c.Status.LastTransitionTime.Time.Sub(breach)).To(BeNumerically("<=", interval+1500*time.Millisecond))
		Expect(c.Status.Message).To(ContainSubstring("is below the minimum 99"))
		Expect(c.Status.Metrics[0].Verdict).To(Equal("Fail"))
		Expect(*c.Status.Metrics[0].Value).To(BeNumerically("<", 99))
	})

	It("shows a query Prometheus rejects as a condition and an event that quote it", func(ctx context.Context) {
		a := judgedApp(ctx, time.Second)
		Expect(k8s.Create(ctx, &fledgev1alpha1.MetricTemplate{
			ObjectMeta: metav1.ObjectMeta{Namespace: a.ns, Name: "broken"},
			Spec: fledgev1alpha1.MetricTemplateSpec{
				Provider: fledgev1alpha1.MetricProvider{Address: prom.URL},
				Query:    `sum(rate(istio_requests_total{namespace="{{ .Namespace }}"}[{{ .Interval }}]`,
			},
		})).To(Succeed())
		c := a.get(ctx)
		maximum := 1.0
		c.Spec.Analysis.Metrics = []fledgev1alpha1.CanaryMetric{{Name: "broken", TemplateRef: &fledgev1alpha1.MetricTemplateRef{Name: "broken"}, ThresholdRange: &fledgev1alpha1.ThresholdRange{Max: &maximum}}}
		Expect(k8s.Update(ctx, c)).To(Succeed())
		a.setImage(ctx, "example.com/web:v2")

		c = a.waitPhase(ctx, fledgev1alpha1.PhaseFailed)
		cond := meta(c, fledgev1alpha1.ConditionMetricsReady)
		Expect(cond.Status).To(Equal(metav1.ConditionFalse))
		Expect(cond.Reason).To(Equal(analysis.ReasonQueryRejected))
		Expect(cond.Message).To(ContainSubstring(`"sum(rate(istio_requests_total{namespace=\"` + a.ns + `\"}[1s]"`))
		Eventually(a.eventReasons).WithContext(ctx).Should(ContainElement("Aborted"))
	})

	It("still ends in Failed when many long queries fail at once", func(ctx context.Context) {
		// An interval long enough for most of the 32 queries to be answered (rejected) on a
		// busy machine; those that are not fail as not measured in time, and are in status too.
		a := judgedApp(ctx, 5*time.Second)
		// Each query is rejected and quoted in its metric's message: 32 of them would make a
		// message of over 100,000 characters, past what the API takes in a condition.
		long := strings.Repeat(`sum(rate(istio_requests_total{destination_workload="{{ .Workload }}"}[{{ .Interval }}])) + `, 45) + "("
		maximum := 1.0
		var metrics []fledgev1alpha1.CanaryMetric
		for i := range 32 {
			name := fmt.Sprintf("broken-%02d", i)
			Expect(k8s.Create(ctx, &fledgev1alpha1.MetricTemplate{
				ObjectMeta: metav1.ObjectMeta{Namespace: a.ns, Name: name},
				Spec:       fledgev1alpha1.MetricTemplateSpec{Provider: fledgev1alpha1.MetricProvider{Address: prom.URL}, Query: long},
			})).To(Succeed())
			metrics = append(metrics, fledgev1alpha1.CanaryMetric{Name: name, TemplateRef: &fledgev1alpha1.MetricTemplateRef{Name: name}, ThresholdRange: &fledgev1alpha1.ThresholdRange{Max: &maximum}})
		}
		c := a.get(ctx)
		c.Spec.Analysis.Metrics = metrics
		Expect(k8s.Update(ctx, c)).To(Succeed())
		a.setImage(ctx, "example.com/web:v2")

		c = a.waitPhase(ctx, fledgev1alpha1.PhaseFailed)
		Expect(len(c.Status.Message)).To(BeNumerically("<=", fledgev1alpha1.MaxMessage))
		for _, cond := range c.Status.Conditions {
			Expect(len(cond.Message)).To(BeNumerically("<=", fledgev1alpha1.MaxMessage), cond.Type)
		}
		Expect(c.Status.Metrics).To(HaveLen(32))
		for _, m := range c.Status.Metrics {
			Expect(len(m.Message)).To(BeNumerically("<=", fledgev1alpha1.MaxMetricMessage), m.Name)
		}
		Expect(meta(c, fledgev1alpha1.ConditionMetricsReady).Reason).To(Equal(analysis.ReasonQueryRejected))
	})
})
