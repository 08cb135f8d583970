package analysis_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"fledge.dev/fledge/analysis"
	"fledge.dev/fledge/apis"
	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

func canaryIn(namespace string, metrics ...fledgev1alpha1.CanaryMetric) *fledgev1alpha1.Canary {
	return &fledgev1alpha1.Canary{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "web"},
		Spec: fledgev1alpha1.CanarySpec{
			TargetRef: fledgev1alpha1.TargetRef{Name: "web"},
			Analysis: fledgev1alpha1.CanaryAnalysis{
				Interval: &metav1.Duration{Duration: window},
				Metrics:  metrics,
			},
		},
	}
}

// analyzerWith judges against the test Prometheus; MetricTemplates and Secrets come from an
// in-memory client (the Kubernetes lookups are not what these specs are about).
func analyzerWith(address string, objs ...client.Object) *analysis.Analyzer {
	k8s := fake.NewClientBuilder().WithScheme(apis.NewScheme()).WithObjects(objs...).Build()
	return &analysis.Analyzer{Reader: k8s, APIReader: k8s, Clock: clock.RealClock{}, DefaultAddress: address}
}

func successRate(r fledgev1alpha1.ThresholdRange) fledgev1alpha1.CanaryMetric {
	return fledgev1alpha1.CanaryMetric{Name: "success-rate", Builtin: analysis.BuiltinSuccessRate, ThresholdRange: &r}
}

func latency(r fledgev1alpha1.ThresholdRange) fledgev1alpha1.CanaryMetric {
	return fledgev1alpha1.CanaryMetric{Name: "latency", Builtin: analysis.BuiltinDuration, ThresholdRange: &r}
}

func atLeast(v float64) fledgev1alpha1.ThresholdRange { return fledgev1alpha1.ThresholdRange{Min: &v} }
func atMost(v float64) fledgev1alpha1.ThresholdRange  { return fledgev1alpha1.ThresholdRange{Max: &v} }
func f(v float64) *float64                            { return &v }
func i64(v int64) *int64                              { return &v }

func template(name, query string, provider fledgev1alpha1.MetricProvider) *fledgev1alpha1.MetricTemplate {
	return &fledgev1alpha1.MetricTemplate{
		ObjectMeta: metav1.ObjectMeta{Namespace: "monitoring", Name: name},
		// The platform team's: shared with every namespace.
		Spec: fledgev1alpha1.MetricTemplateSpec{Provider: provider, Query: query, SharedWith: []string{fledgev1alpha1.SharedWithAll}},
	}
}

func fromTemplate(name string, r fledgev1alpha1.ThresholdRange) fledgev1alpha1.CanaryMetric {
	return fledgev1alpha1.CanaryMetric{Name: name, TemplateRef: &fledgev1alpha1.MetricTemplateRef{Name: name, Namespace: "monitoring"}, ThresholdRange: &r}
}

var _ = Describe("the built-in checks", func() {
	It("pass a healthy canary, with the values measured", func(ctx context.Context) {
		r := analyzerWith(prom.URL).Check(ctx, canaryIn(healthy, successRate(atLeast(99)), latency(atMost(200))), web)
		Expect(r.Verdict).To(Equal(analysis.Pass), r.Message)
		Expect(r.Problem).To(BeNil())
		Expect(r.Metrics).To(HaveLen(2))
		Expect(*r.Metrics[0].Value).To(BeNumerically("==", 100))
		Expect(*r.Metrics[1].Value).To(BeNumerically("~", 45, 10), "p99 of 40-44 ms requests, interpolated in the 25-50 ms bucket")
	})

	It("fail a canary whose success rate is below the minimum", func(ctx context.Context) {
		r := analyzerWith(prom.URL).Check(ctx, canaryIn(erroring, successRate(atLeast(99))), web)
		Expect(r.Verdict).To(Equal(analysis.Fail))
		// 10 % of about 200 requests fail at random: a binomial spread of about 2 points.
		Expect(*r.Metrics[0].Value).To(BeNumerically("~", 90, 8))
		Expect(r.Message).To(MatchRegexp(`success-rate: \d+(\.\d+)? is below the minimum 99`))
	})

	It("fail a canary whose p99 latency is above the maximum", func(ctx context.Context) {
		r := analyzerWith(prom.URL).Check(ctx, canaryIn(slow, latency(atMost(200))), web)
		Expect(r.Verdict).To(Equal(analysis.Fail))
		Expect(*r.Metrics[0].Value).To(BeNumerically(">", 400))
		Expect(r.Message).To(ContainSubstring("is above the maximum 200"))
	})

	It("fail a canary whose every answer is a 5xx: 0 %, not no data", func(ctx context.Context) {
		m := successRate(atLeast(99))
		m.MinRequests = i64(10)
		r := analyzerWith(prom.URL).Check(ctx, canaryIn(broken, m), web)
		Expect(r.Verdict).To(Equal(analysis.Fail), r.Message)
		Expect(r.Metrics[0].Value).NotTo(BeNil())
		Expect(*r.Metrics[0].Value).To(BeZero())
		Expect(*r.Metrics[0].Requests).To(BeNumerically(">=", 10), "it served requests: all of them failed")
		Expect(r.Message).To(ContainSubstring("success-rate: 0 is below the minimum 99"))
	})

	It("fail a canary whose every answer breaches the latency bound", func(ctx context.Context) {
		r := analyzerWith(prom.URL).Check(ctx, canaryIn(breached, latency(atMost(500))), web)
		Expect(r.Verdict).To(Equal(analysis.Fail), r.Message)
		Expect(*r.Metrics[0].Value).To(BeNumerically(">", 500))
	})

	It("wait, never pass, when there is no data", func(ctx context.Context) {
		r := analyzerWith(prom.URL).Check(ctx, canaryIn(idle, successRate(atLeast(99)), latency(atMost(200))), web)
		Expect(r.Verdict).To(Equal(analysis.Wait))
		Expect(r.Message).To(ContainSubstring("no data for the canary"))
		Expect(r.Metrics[0].Value).To(BeNil())
	})

	It("wait while the canary served fewer requests than needed, and say how many", func(ctx context.Context) {
		m := successRate(atLeast(99))
		m.MinRequests = i64(100)
		r := analyzerWith(prom.URL).Check(ctx, canaryIn(quiet, m), web)
		Expect(r.Verdict).To(Equal(analysis.Wait))
		Expect(*r.Metrics[0].Requests).To(BeNumerically("<", 20))
		Expect(r.Message).To(MatchRegexp(`served \d+ requests in the window, fewer than the 100 needed`))

		m.MinRequests = i64(50)
		r = analyzerWith(prom.URL).Check(ctx, canaryIn(healthy, m), web)
		Expect(r.Verdict).To(Equal(analysis.Pass), "200 requests in 10s are enough")
	})

	It("fail, never pass, when Prometheus is out of reach", func(ctx context.Context) {
		a := analyzerWith("http://127.0.0.1:1")
		r := a.Check(ctx, canaryIn(healthy, successRate(atLeast(99))), web)
		Expect(r.Verdict).To(Equal(analysis.Fail))
		Expect(r.Problem.Reason).To(Equal(analysis.ReasonProviderUnreachable))
		Expect(a.Preflight(ctx, canaryIn(healthy, successRate(atLeast(99))))).To(MatchError(ContainSubstring("does not answer")))
		Expect(analyzerWith(prom.URL).Preflight(ctx, canaryIn(healthy, successRate(atLeast(99))))).To(Succeed())
	})
})

var _ = Describe("a MetricTemplate", func() {
	provider := func() fledgev1alpha1.MetricProvider {
		return fledgev1alpha1.MetricProvider{Address: prom.URL, Timeout: &metav1.Duration{Duration: 5 * time.Second}}
	}

	It("renders its query with the canary's variables", func(ctx context.Context) {
		t := template("rps", `sum(rate(istio_requests_total{destination_workload_namespace="{{ .Namespace }}",destination_workload="{{ .Workload }}",response_code=~"{{ .Variables.codes }}"}[{{ .Interval }}]))`, provider())
		m := fromTemplate("rps", atLeast(10))
		m.TemplateVariables = map[string]string{"codes": "2.."}
		// Judged at a fixed instant, so that the same query written out by hand, asked for the
		// same instant, must give the very same value.
		at := time.Now().Add(-time.Second)
		a := analyzerWith(prom.URL, t)
		a.Clock = clocktesting.NewFakePassiveClock(at)
		r := a.Check(ctx, canaryIn(healthy, m), web)
		Expect(r.Verdict).To(Equal(analysis.Pass), r.Message)
		q, err := analysis.NewPrometheus(analysis.PrometheusOptions{Address: prom.URL})
		Expect(err).NotTo(HaveOccurred())
		want, err := q.Query(ctx, `sum(rate(istio_requests_total{destination_workload_namespace="healthy",destination_workload="web-canary",response_code=~"2.."}[10s]))`, at)
		Expect(err).NotTo(HaveOccurred())
		Expect(*r.Metrics[0].Value).To(Equal(want))
		// The healthy canary serves 20 requests per second; rate() over 10 s reads far less when
		// scrapes run late on a busy machine.
		Expect(want).To(BeNumerically(">", 5))
	})

	It("that Prometheus rejects fails, quoting the query", func(ctx context.Context) {
		t := template("broken", `sum(rate(istio_requests_total[{{ .Interval }}]`, provider())
		r := analyzerWith(prom.URL, t).Check(ctx, canaryIn(healthy, fromTemplate("broken", atMost(1))), web)
		Expect(r.Verdict).To(Equal(analysis.Fail))
		Expect(r.Problem.Reason).To(Equal(analysis.ReasonQueryRejected))
		Expect(r.Problem.Message).To(ContainSubstring(`rejected the query "sum(rate(istio_requests_total[10s]"`))
	})

	It("that does not render fails, quoting the template", func(ctx context.Context) {
		t := template("typo", `sum(up{namespace="{{ .Namespce }}"})`, provider())
		r := analyzerWith(prom.URL, t).Check(ctx, canaryIn(healthy, fromTemplate("typo", atMost(1))), web)
		Expect(r.Verdict).To(Equal(analysis.Fail))
		Expect(r.Problem.Reason).To(Equal(analysis.ReasonTemplateError))
		Expect(r.Problem.Message).To(ContainSubstring(`the query is "sum(up{namespace=\"{{ .Namespce }}\"})"`))
	})

	It("that does not exist fails, saying so", func(ctx context.Context) {
		r := analyzerWith(prom.URL).Check(ctx, canaryIn(healthy, fromTemplate("missing", atMost(1))), web)
		Expect(r.Verdict).To(Equal(analysis.Fail))
		Expect(r.Problem.Reason).To(Equal(analysis.ReasonTemplateNotFound))
	})

	It("of another namespace that is not shared with the Canary's fails, saying who may share it, and never runs", func(ctx context.Context) {
		query := `sum(rate(istio_requests_total{destination_workload="{{ .Workload }}"}[{{ .Interval }}]))`
		for _, sharedWith := range [][]string{nil, {"other-team"}} {
			t := template("private", query, provider())
			t.Spec.SharedWith = sharedWith
			r := analyzerWith(prom.URL, t).Check(ctx, canaryIn(healthy, fromTemplate("private", atLeast(0))), web)
			Expect(r.Verdict).To(Equal(analysis.Fail))
			Expect(r.Problem.Reason).To(Equal(analysis.ReasonTemplateNotShared))
			Expect(r.Problem.Message).To(Equal(`MetricTemplate monitoring/private is not shared with namespace ` + healthy +
				`: its owners may add "` + healthy + `" to its spec.sharedWith, or copy it into ` + healthy))
			Expect(r.Metrics).To(HaveLen(1))
			Expect(r.Metrics[0].Value).To(BeNil(), "nothing measured with credentials that are not the Canary's to use")
		}

		t := template("private", query, provider())
		t.Spec.SharedWith = []string{"other-team", healthy}
		r := analyzerWith(prom.URL, t).Check(ctx, canaryIn(healthy, fromTemplate("private", atLeast(0))), web)
		Expect(r.Verdict).To(Equal(analysis.Pass), r.Message)

		own := template("own", query, provider())
		own.Namespace, own.Spec.SharedWith = healthy, nil
		ref := fromTemplate("own", atLeast(0))
		ref.TemplateRef.Namespace = ""
		r = analyzerWith(prom.URL, own).Check(ctx, canaryIn(healthy, ref), web)
		Expect(r.Verdict).To(Equal(analysis.Pass), "a template of the Canary's own namespace needs no sharing: %s", r.Message)
	})

	It("reaches a Prometheus behind basic auth with the credentials of its Secret, and fails without them", func(ctx context.Context) {
		secret := func(password string) *corev1.Secret {
			return &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: "monitoring", Name: "prometheus-auth"},
				Data:       map[string][]byte{"username": []byte(promUser), "password": []byte(password)},
			}
		}
		secured := fledgev1alpha1.MetricProvider{Address: securedProm.URL, SecretRef: &fledgev1alpha1.LocalSecretReference{Name: "prometheus-auth"}}
		t := template("secured", `sum(rate(istio_requests_total{destination_workload="{{ .Workload }}",destination_workload_namespace="{{ .Namespace }}"}[{{ .Interval }}]))`, secured)
		r := analyzerWith(prom.URL, t, secret(promPassword)).Check(ctx, canaryIn(healthy, fromTemplate("secured", atLeast(1))), web)
		Expect(r.Verdict).To(Equal(analysis.Pass), r.Message)

		r = analyzerWith(prom.URL, t, secret("wrong")).Check(ctx, canaryIn(healthy, fromTemplate("secured", atLeast(1))), web)
		Expect(r.Verdict).To(Equal(analysis.Fail))
		Expect(r.Problem.Message).NotTo(ContainSubstring("wrong"), "no secret in messages")
	})
})

var _ = Describe("a comparison with the primary", func() {
	It("fails a canary whose success rate falls more than the allowed points below the primary's", func(ctx context.Context) {
		m := fledgev1alpha1.CanaryMetric{Name: "errors", Builtin: analysis.BuiltinSuccessRate, CompareToPrimary: &fledgev1alpha1.PrimaryComparison{MaxDecrease: f(1)}}
		r := analyzerWith(prom.URL).Check(ctx, canaryIn(erroring, m), web)
		Expect(r.Verdict).To(Equal(analysis.Fail))
		Expect(*r.Metrics[0].PrimaryValue).To(BeNumerically("==", 100))
		Expect(r.Message).To(ContainSubstring("below the primary's 100 (at most 1 allowed)"))

		r = analyzerWith(prom.URL).Check(ctx, canaryIn(healthy, m), web)
		Expect(r.Verdict).To(Equal(analysis.Pass), r.Message)
	})

	It("fails a canary whose p99 is more than the allowed percent above the primary's", func(ctx context.Context) {
		m := fledgev1alpha1.CanaryMetric{Name: "latency", Builtin: analysis.BuiltinDuration, CompareToPrimary: &fledgev1alpha1.PrimaryComparison{MaxIncreasePercent: f(20)}}
		Expect(analyzerWith(prom.URL).Check(ctx, canaryIn(slow, m), web).Verdict).To(Equal(analysis.Fail))
		Expect(analyzerWith(prom.URL).Check(ctx, canaryIn(healthy, m), web).Verdict).To(Equal(analysis.Pass))
	})

	It("compares the two samples with a Mann-Whitney U test, reporting p-value and effect size", func(ctx context.Context) {
		m := fledgev1alpha1.CanaryMetric{Name: "latency", Builtin: analysis.BuiltinDuration, CompareToPrimary: &fledgev1alpha1.PrimaryComparison{
			Statistical: &fledgev1alpha1.StatisticalComparison{Direction: "Increase", Confidence: 0.95, MaxEffectSize: 0.1, Samples: 6},
		}}
		// Six points of five seconds each: every point spans several scrapes.
		m.Interval = &metav1.Duration{Duration: 30 * time.Second}
		var r analysis.Result
		// The window must first fill with scraped points.
		Eventually(func(g Gomega) {
			r = analyzerWith(prom.URL).Check(ctx, canaryIn(slow, m), web)
			g.Expect(r.Verdict).To(Equal(analysis.Fail), r.Message)
		}).WithContext(ctx).WithTimeout(45 * time.Second).WithPolling(2 * time.Second).Should(Succeed())
		Expect(*r.Metrics[0].PValue).To(BeNumerically("<", 0.05))
		Expect(*r.Metrics[0].EffectSize).To(BeNumerically(">", 1), "the canary is several times slower")
		Expect(r.Message).To(ContainSubstring("significant increase beyond the tolerated 0.1"))

		r = analyzerWith(prom.URL).Check(ctx, canaryIn(healthy, m), web)
		Expect(r.Verdict).To(Equal(analysis.Pass), r.Message)
		Expect(r.Metrics[0].PValue).NotTo(BeNil())
	})
})
