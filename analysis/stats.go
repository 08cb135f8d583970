package analysis

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/aclements/go-moremath/stats"
)

// Direction is the way a metric must not move for the canary to pass.
type Direction string

const (
	Increase Direction = "Increase"
	Decrease Direction = "Decrease"
)

// Comparison is the outcome of a statistical comparison of two samples.
type Comparison struct {
	// Worse is true when the canary is significantly worse and the effect exceeds the tolerance.
	Worse bool
	// PValue of the one-sided Mann-Whitney U test in the bad direction.
	PValue float64
	// EffectSize is the relative change of the median: (canary - primary) / |primary|.
	EffectSize float64
	// U is the Mann-Whitney U statistic of the canary's sample.
	U float64
}

// ErrNoSample means one of the samples is empty: there is nothing to compare.
var ErrNoSample = errors.New("an empty sample")

// ErrThinSample means one of the samples has fewer finite points than a comparison needs, or
// too few for any difference to be significant at the confidence asked: the comparison would
// pass whatever the data.
var ErrThinSample = errors.New("too few points to compare")

// DefaultMinSamples is the finite points each side needs unless the metric says otherwise:
// with 5 against 5 the smallest one-sided exact p-value is 1/252, below 1-0.99.
const DefaultMinSamples = 5

// CompareSamples tests whether the canary's sample is worse than the primary's: a one-sided
// Mann-Whitney U test at the confidence level (exact for small samples, with ties), and a
// change of the median larger than maxEffect, in the bad direction. Each sample needs at
// least minSamples finite points.
func CompareSamples(canary, primary []float64, direction Direction, confidence, maxEffect float64, minSamples int) (Comparison, error) {
	canary, primary = finite(canary), finite(primary)
	if len(canary) == 0 || len(primary) == 0 {
		return Comparison{}, ErrNoSample
	}
	if len(canary) < minSamples || len(primary) < minSamples || !canReachSignificance(len(canary), len(primary), confidence) {
		return Comparison{}, ErrThinSample
	}
	alt := stats.LocationGreater
	if direction == Decrease {
		alt = stats.LocationLess
	}
	c := Comparison{EffectSize: relativeChange(median(canary), median(primary))}
	result, err := stats.MannWhitneyUTest(canary, primary, alt)
	switch {
	case errors.Is(err, stats.ErrSamplesEqual):
		c.PValue, c.U = 1, float64(len(canary)*len(primary))/2
		return c, nil
	case err != nil:
		return Comparison{}, fmt.Errorf("Mann-Whitney U test: %w", err)
	}
	c.PValue, c.U = result.P, result.U
	significant := c.PValue < 1-confidence
	largeEffect := (direction == Increase && c.EffectSize > maxEffect) || (direction == Decrease && c.EffectSize < -maxEffect)
	c.Worse = significant && largeEffect
	return c, nil
}

// canReachSignificance is whether samples of n and m points can show a difference at the
// confidence level at all: the smallest one-sided exact p-value of the U test is 1/C(n+m, n)
// (complete separation). Below that, the comparison would pass whatever the data.
func canReachSignificance(n, m int, confidence float64) bool {
	lgAll, _ := math.Lgamma(float64(n + m + 1))
	lgN, _ := math.Lgamma(float64(n + 1))
	lgM, _ := math.Lgamma(float64(m + 1))
	smallestP := math.Exp(-(lgAll - lgN - lgM))
	return smallestP < (1-confidence)*(1-1e-9) // 1/20 is not below 1 - 0.95
}

// relativeChange is (canary - primary) / |primary|; against a zero primary any change is
// infinitely large.
func relativeChange(canary, primary float64) float64 {
	switch {
	case canary == primary:
		return 0
	case primary == 0:
		return math.Copysign(math.Inf(1), canary)
	}
	return (canary - primary) / math.Abs(primary)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// finite drops NaN and infinite points (a window without requests yields NaN).
func finite(xs []float64) []float64 {
	out := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			out = append(out, x)
		}
	}
	return out
}
