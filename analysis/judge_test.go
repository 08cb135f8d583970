package analysis_test

import (
	"testing"

	"fledge.dev/fledge/analysis"
	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

func TestJudge(t *testing.T) {
	bounds := func(c fledgev1alpha1.PrimaryComparison) *fledgev1alpha1.PrimaryComparison { return &c }
	for _, tc := range []struct {
		name    string
		metric  fledgev1alpha1.CanaryMetric
		m       analysis.Measurement
		verdict analysis.Verdict
		message string
	}{
		{"within the range", fledgev1alpha1.CanaryMetric{Name: "m", ThresholdRange: &fledgev1alpha1.ThresholdRange{Min: f(99), Max: f(100)}},
			analysis.Measurement{Value: f(99.5)}, analysis.Pass, "m: 99.5"},
		{"on the minimum", fledgev1alpha1.CanaryMetric{Name: "m", ThresholdRange: &fledgev1alpha1.ThresholdRange{Min: f(99)}},
			analysis.Measurement{Value: f(99)}, analysis.Pass, "m: 99"},
		{"below the minimum", fledgev1alpha1.CanaryMetric{Name: "m", ThresholdRange: &fledgev1alpha1.ThresholdRange{Min: f(99)}},
			analysis.Measurement{Value: f(98.2)}, analysis.Fail, "m: 98.2 is below the minimum 99"},
		{"above the maximum", fledgev1alpha1.CanaryMetric{Name: "m", ThresholdRange: &fledgev1alpha1.ThresholdRange{Max: f(500)}},
			analysis.Measurement{Value: f(812)}, analysis.Fail, "m: 812 is above the maximum 500"},
		{"no data", fledgev1alpha1.CanaryMetric{Name: "m", ThresholdRange: &fledgev1alpha1.ThresholdRange{Max: f(500)}},
			analysis.Measurement{}, analysis.Wait, "m: no data for the canary in the window"},
		{"too few requests", fledgev1alpha1.CanaryMetric{Name: "m", MinRequests: i64(100), ThresholdRange: &fledgev1alpha1.ThresholdRange{Max: f(500)}},
			analysis.Measurement{Value: f(1), Requests: i64(12)}, analysis.Wait, "m: the canary served 12 requests in the window, fewer than the 100 needed to judge"},
		{"enough requests", fledgev1alpha1.CanaryMetric{Name: "m", MinRequests: i64(100), ThresholdRange: &fledgev1alpha1.ThresholdRange{Max: f(500)}},
			analysis.Measurement{Value: f(1), Requests: i64(100)}, analysis.Pass, "m: 1"},
		{"at most 1 point below the primary", fledgev1alpha1.CanaryMetric{Name: "m", CompareToPrimary: bounds(fledgev1alpha1.PrimaryComparison{MaxDecrease: f(1)})},
			analysis.Measurement{Value: f(98.5), Primary: f(99.9)}, analysis.Fail, "m: 98.5 is 1.4 below the primary's 99.9 (at most 1 allowed)"},
		{"within a point of the primary", fledgev1alpha1.CanaryMetric{Name: "m", CompareToPrimary: bounds(fledgev1alpha1.PrimaryComparison{MaxDecrease: f(1)})},
			analysis.Measurement{Value: f(99.2), Primary: f(99.9)}, analysis.Pass, "m: 99.2 against the primary's 99.9"},
		{"at most 20% above the primary", fledgev1alpha1.CanaryMetric{Name: "m", CompareToPrimary: bounds(fledgev1alpha1.PrimaryComparison{MaxIncreasePercent: f(20)})},
			analysis.Measurement{Value: f(130), Primary: f(100)}, analysis.Fail, "m: 130 is 30% above the primary's 100 (at most 20% allowed)"},
		{"above a zero primary", fledgev1alpha1.CanaryMetric{Name: "m", CompareToPrimary: bounds(fledgev1alpha1.PrimaryComparison{MaxIncreasePercent: f(20)})},
			analysis.Measurement{Value: f(1), Primary: f(0)}, analysis.Fail, "m: 1 is +Inf% above the primary's 0 (at most 20% allowed)"},
		{"no primary data", fledgev1alpha1.CanaryMetric{Name: "m", CompareToPrimary: bounds(fledgev1alpha1.PrimaryComparison{MaxIncrease: f(5)})},
			analysis.Measurement{Value: f(1)}, analysis.Wait, "m: no data for the primary in the window to compare with"},
		{"range checked before the comparison", fledgev1alpha1.CanaryMetric{Name: "m", ThresholdRange: &fledgev1alpha1.ThresholdRange{Max: f(10)}, CompareToPrimary: bounds(fledgev1alpha1.PrimaryComparison{MaxIncrease: f(100)})},
			analysis.Measurement{Value: f(50), Primary: f(49)}, analysis.Fail, "m: 50 is above the maximum 10"},
		{"no samples to compare", fledgev1alpha1.CanaryMetric{Name: "m", CompareToPrimary: bounds(fledgev1alpha1.PrimaryComparison{Statistical: &fledgev1alpha1.StatisticalComparison{Direction: "Increase"}})},
			analysis.Measurement{PrimarySample: []float64{1, 2}}, analysis.Wait, "m: no sample to compare (0 canary and 2 primary points with data)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := analysis.Judge(&tc.metric, tc.m)
			if got.Verdict != string(tc.verdict) || got.Message != tc.message {
				t.Errorf("got %s %q, want %s %q", got.Verdict, got.Message, tc.verdict, tc.message)
			}
		})
	}
}
