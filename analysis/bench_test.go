package analysis_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"k8s.io/utils/clock"

	"fledge.dev/fledge/analysis"
	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// fixedQuerier answers every query at once, so that the benchmark measures Fledge's own work
// (building queries, judging, the statistics), not Prometheus. Range queries alternate
// between two samples, as a canary's and a primary's would.
type fixedQuerier struct {
	samples [2][]float64
	calls   *int
}

func (q fixedQuerier) Query(context.Context, string, time.Time) (float64, error) { return 99.5, nil }
func (q fixedQuerier) QueryRange(context.Context, string, time.Time, time.Time, time.Duration) ([]float64, error) {
	*q.calls++
	return q.samples[*q.calls%2], nil
}
func (q fixedQuerier) Ping(context.Context) error { return nil }

// BenchmarkCheck judges one canary with a fixed success rate, a comparison with the primary
// and a Mann-Whitney comparison of 20-point samples.
func BenchmarkCheck(b *testing.B) {
	var samples [2][]float64
	for s := range samples {
		for range 20 {
			samples[s] = append(samples[s], 40+rand.Float64()*5)
		}
	}
	calls := 0
	a := &analysis.Analyzer{
		Clock: clock.RealClock{}, DefaultAddress: "http://prometheus.invalid",
		NewQuerier: func(analysis.PrometheusOptions) (analysis.Querier, error) {
			return fixedQuerier{samples: samples, calls: &calls}, nil
		},
	}
	canary := canaryIn("shop",
		successRate(atLeast(99)),
		fledgev1alpha1.CanaryMetric{Name: "errors", Builtin: analysis.BuiltinSuccessRate, CompareToPrimary: &fledgev1alpha1.PrimaryComparison{MaxDecrease: f(1)}},
		fledgev1alpha1.CanaryMetric{Name: "latency", Builtin: analysis.BuiltinDuration, CompareToPrimary: &fledgev1alpha1.PrimaryComparison{
			Statistical: &fledgev1alpha1.StatisticalComparison{Direction: "Increase", Confidence: 0.95, MaxEffectSize: 0.1, Samples: 20},
		}},
	)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if r := a.Check(ctx, canary, web); r.Verdict != analysis.Pass {
			b.Fatalf("verdict %s: %s", r.Verdict, r.Message)
		}
	}
}
