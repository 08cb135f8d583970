package analysis_test

import (
	"errors"
	"math"
	"testing"

	"fledge.dev/fledge/analysis"
)

// permutationP is the exact one-sided p-value of the Mann-Whitney U test computed the long
// way, independently of the library: over every way of drawing len(canary) of the pooled
// points as the canary's, the share whose U (pairs the canary wins, ties count half) is at
// least the observed one. With ties this is the exact conditional distribution.
func permutationP(canary, primary []float64, direction analysis.Direction) float64 {
	sign := 1.0
	if direction == analysis.Decrease {
		sign = -1
	}
	pooled := append(append([]float64{}, canary...), primary...)
	u := func(a, b []float64) float64 {
		total := 0.0
		for _, x := range a {
			for _, y := range b {
				switch {
				case sign*x > sign*y:
					total++
				case x == y:
					total += 0.5
				}
			}
		}
		return total
	}
	observed := u(canary, primary)
	n, k := len(pooled), len(canary)
	atLeast, all := 0, 0
	var choose func(start int, picked []int)
	choose = func(start int, picked []int) {
		if len(picked) == k {
			in := map[int]bool{}
			var a, b []float64
			for _, i := range picked {
				in[i] = true
				a = append(a, pooled[i])
			}
			for i := range pooled {
				if !in[i] {
					b = append(b, pooled[i])
				}
			}
			all++
			if u(a, b) >= observed-1e-9 {
				atLeast++
			}
			return
		}
		for i := start; i <= n-(k-len(picked)); i++ {
			choose(i+1, append(picked, i))
		}
	}
	choose(0, nil)
	return float64(atLeast) / float64(all)
}

func TestCompareSamplesAgreesWithAnExactPermutationTest(t *testing.T) {
	for _, tc := range []struct {
		name            string
		canary, primary []float64
		direction       analysis.Direction
		ties            bool
	}{
		{"ties across the samples", []float64{3, 3, 4, 5, 5, 6}, []float64{1, 2, 3, 3, 4}, analysis.Increase, true},
		{"many ties, unequal sizes", []float64{2, 2, 2, 3, 3, 4, 4}, []float64{1, 1, 2, 2, 3}, analysis.Increase, true},
		{"unequal sizes, no ties", []float64{10.5, 11.2, 9.8, 12.1}, []float64{9.1, 8.7, 10.1, 9.9, 8.2, 9.5, 10.0}, analysis.Increase, false},
		{"unequal sizes, a lower canary", []float64{1.5, 2.5, 0.5}, []float64{2.1, 3.3, 4.7, 5.2, 2.9, 3.1}, analysis.Decrease, false},
		{"a lower canary, ties", []float64{1, 1, 2, 3, 3}, []float64{2, 3, 3, 4, 5, 5}, analysis.Decrease, true},
		{"no difference, ties", []float64{5, 6, 7, 5, 6}, []float64{5, 6, 7, 6, 5}, analysis.Increase, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := analysis.CompareSamples(tc.canary, tc.primary, tc.direction, 0.95, 0, 3)
			if err != nil {
				t.Fatal(err)
			}
			want := permutationP(tc.canary, tc.primary, tc.direction)
			switch {
			case !tc.ties && math.Abs(got.PValue-want) > 1e-9:
				t.Errorf("p = %.6f, the exact permutation test gives %.6f", got.PValue, want)
			case tc.ties && (got.PValue < want-1e-9 || got.PValue > want*1.1):
				// With ties the library's exact distribution counts the arrangements within
				// half a step of U as at least as extreme: a slightly larger p, never a
				// smaller one, so it never calls a canary worse than the data say.
				t.Errorf("p = %.6f with ties, the exact permutation test gives %.6f", got.PValue, want)
			}
		})
	}
}

// A comparison with too few points on either side cannot reach significance whatever the
// data: it must wait, never pass.
func TestCompareSamplesRefusesThinSamples(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name            string
		canary, primary []float64
	}{
		{"two canary points", []float64{900, 950}, []float64{100, 101, 102, 103, 104}},
		{"NaN leaves one canary point", []float64{nan, 900, nan, nan, nan}, []float64{100, 101, 102, 103, 104}},
		{"two primary points", []float64{900, 950, 990, 1000, 1010}, []float64{100, nan, 101}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := analysis.CompareSamples(tc.canary, tc.primary, analysis.Increase, 0.95, 0.1, 5)
			if !errors.Is(err, analysis.ErrThinSample) {
				t.Fatalf("err = %v, want ErrThinSample", err)
			}
		})
	}
	if _, err := analysis.CompareSamples([]float64{900, 950, 990, 1000, 1010}, []float64{100, 101, 102, 103, 104}, analysis.Increase, 0.95, 0.1, 5); err != nil {
		t.Fatalf("five points each are enough: %v", err)
	}
}

// At a confidence so high that even completely separated samples of that size cannot reach
// it, the comparison cannot fail: it must wait.
func TestCompareSamplesRefusesSamplesThatCannotReachSignificance(t *testing.T) {
	canary, primary := []float64{900, 910, 920, 930, 940}, []float64{100, 101, 102, 103, 104}
	// 5 against 5: the smallest p is 1/252 ≈ 0.004.
	if _, err := analysis.CompareSamples(canary, primary, analysis.Increase, 0.999, 0.1, 5); !errors.Is(err, analysis.ErrThinSample) {
		t.Fatalf("at 99.9 %%: err = %v, want ErrThinSample", err)
	}
	got, err := analysis.CompareSamples(canary, primary, analysis.Increase, 0.99, 0.1, 5)
	if err != nil || !got.Worse {
		t.Fatalf("at 99 %%: %+v, %v: want a worse canary", got, err)
	}
	// 3 against 3: the smallest p is 1/20 = 0.05, not below 1 - 0.95.
	if _, err := analysis.CompareSamples(canary[:3], primary[:3], analysis.Increase, 0.95, 0.1, 3); !errors.Is(err, analysis.ErrThinSample) {
		t.Fatalf("3 against 3 at 95 %%: err = %v, want ErrThinSample", err)
	}
}
