package analysis

import (
	"errors"
	"fmt"
	"math"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// Measurement is what was measured for one metric over its window.
type Measurement struct {
	// Value is the canary's value; nil when there was no data.
	Value *float64
	// Primary is the primary's value, measured when the metric compares bounds with it.
	Primary *float64
	// CanarySample and PrimarySample are the points of a statistical comparison.
	CanarySample, PrimarySample []float64
	// Requests served by the canary in the window, when the metric has minRequests.
	Requests *int64
}

// Judge gives the verdict of one metric on its measurement. Missing data never passes.
func Judge(metric *fledgev1alpha1.CanaryMetric, m Measurement) fledgev1alpha1.MetricStatus {
	st := fledgev1alpha1.MetricStatus{Name: metric.Name, Value: m.Value, PrimaryValue: m.Primary, Requests: m.Requests}
	verdict := func(v Verdict, format string, args ...any) fledgev1alpha1.MetricStatus {
		st.Verdict, st.Message = string(v), fmt.Sprintf(format, args...)
		return st
	}

	if metric.MinRequests != nil && m.Requests != nil && *m.Requests < *metric.MinRequests {
		return verdict(Wait, "%s: the canary served %d requests in the window, fewer than the %d needed to judge", metric.Name, *m.Requests, *metric.MinRequests)
	}
	if r := metric.ThresholdRange; r != nil {
		if m.Value == nil {
			return verdict(Wait, "%s: no data for the canary in the window", metric.Name)
		}
		if r.Min != nil && *m.Value < *r.Min {
			return verdict(Fail, "%s: %s is below the minimum %s", metric.Name, num(*m.Value), num(*r.Min))
		}
		if r.Max != nil && *m.Value > *r.Max {
			return verdict(Fail, "%s: %s is above the maximum %s", metric.Name, num(*m.Value), num(*r.Max))
		}
	}
	cmp := metric.CompareToPrimary
	switch {
	case cmp == nil:
		return verdict(Pass, "%s: %s", metric.Name, num(*m.Value))
	case cmp.Statistical != nil:
		return judgeStatistically(metric, cmp.Statistical, m, st)
	case m.Value == nil:
		return verdict(Wait, "%s: no data for the canary in the window", metric.Name)
	case m.Primary == nil:
		return verdict(Wait, "%s: no data for the primary in the window to compare with", metric.Name)
	}
	if reason := outOfBounds(cmp, *m.Value, *m.Primary); reason != "" {
		return verdict(Fail, "%s: %s", metric.Name, reason)
	}
	return verdict(Pass, "%s: %s against the primary's %s", metric.Name, num(*m.Value), num(*m.Primary))
}

// outOfBounds says how the canary's value breaks the bounds relative to the primary's ("" if
// it does not).
func outOfBounds(cmp *fledgev1alpha1.PrimaryComparison, canary, primary float64) string {
	diff := canary - primary
	switch {
	case cmp.MaxIncrease != nil && diff > *cmp.MaxIncrease:
		return fmt.Sprintf("%s is %s above the primary's %s (at most %s allowed)", num(canary), num(diff), num(primary), num(*cmp.MaxIncrease))
	case cmp.MaxIncreasePercent != nil && diff > math.Abs(primary)**cmp.MaxIncreasePercent/100:
		return fmt.Sprintf("%s is %s%% above the primary's %s (at most %s%% allowed)", num(canary), num(percent(diff, primary)), num(primary), num(*cmp.MaxIncreasePercent))
	case cmp.MaxDecrease != nil && -diff > *cmp.MaxDecrease:
		return fmt.Sprintf("%s is %s below the primary's %s (at most %s allowed)", num(canary), num(-diff), num(primary), num(*cmp.MaxDecrease))
	case cmp.MaxDecreasePercent != nil && -diff > math.Abs(primary)**cmp.MaxDecreasePercent/100:
		return fmt.Sprintf("%s is %s%% below the primary's %s (at most %s%% allowed)", num(canary), num(-percent(diff, primary)), num(primary), num(*cmp.MaxDecreasePercent))
	}
	return ""
}

func judgeStatistically(metric *fledgev1alpha1.CanaryMetric, test *fledgev1alpha1.StatisticalComparison, m Measurement, st fledgev1alpha1.MetricStatus) fledgev1alpha1.MetricStatus {
	confidence, maxEffect := test.Confidence, test.MaxEffectSize
	if confidence == 0 {
		confidence = 0.95
	}
	minSamples := int(test.MinSamples)
	if minSamples <= 0 {
		minSamples = DefaultMinSamples
	}
	c, err := CompareSamples(m.CanarySample, m.PrimarySample, Direction(test.Direction), confidence, maxEffect, minSamples)
	switch {
	case errors.Is(err, ErrThinSample):
		st.Verdict, st.Message = string(Wait), fmt.Sprintf("%s: too few points to compare (%d canary and %d primary points with data; %d needed on each side, and enough for a difference to be significant at the confidence asked)", metric.Name, len(finite(m.CanarySample)), len(finite(m.PrimarySample)), minSamples)
		return st
	case err != nil:
		st.Verdict, st.Message = string(Wait), fmt.Sprintf("%s: no sample to compare (%d canary and %d primary points with data)", metric.Name, len(finite(m.CanarySample)), len(finite(m.PrimarySample)))
		return st
	}
	st.Value, st.PrimaryValue = ptr(median(finite(m.CanarySample))), ptr(median(finite(m.PrimarySample)))
	st.PValue = ptr(c.PValue)
	if !math.IsInf(c.EffectSize, 0) {
		st.EffectSize = ptr(c.EffectSize)
	}
	summary := fmt.Sprintf("median %s against the primary's %s, p = %.4f, effect %s", num(*st.Value), num(*st.PrimaryValue), c.PValue, num(c.EffectSize))
	if c.Worse {
		st.Verdict, st.Message = string(Fail), fmt.Sprintf("%s: significant %s beyond the tolerated %s: %s", metric.Name, lower(test.Direction), num(maxEffect), summary)
		return st
	}
	st.Verdict, st.Message = string(Pass), fmt.Sprintf("%s: %s", metric.Name, summary)
	return st
}

func percent(diff, base float64) float64 {
	if base == 0 {
		return math.Inf(1)
	}
	return diff / math.Abs(base) * 100
}

// num prints a value briefly: 99.5, 0.0123, 1.2e+06.
func num(v float64) string { return fmt.Sprintf("%.4g", v) }

func lower(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]+'a'-'A') + s[1:]
}

func ptr[T any](v T) *T { return &v }
