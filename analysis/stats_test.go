package analysis_test

import (
	"math"
	"testing"

	"fledge.dev/fledge/analysis"
)

// Reference values from R's wilcox.test (exact p-values), and the textbook example of
// Mann and Whitney's U.
func TestCompareSamplesMatchesPublishedValues(t *testing.T) {
	for _, tc := range []struct {
		name              string
		canary, primary   []float64
		direction         analysis.Direction
		wantU, wantP      float64
		wantWorseAt95     bool
		maxEffectTolerate float64
	}{
		{
			// R: x <- c(0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46)
			//    y <- c(1.15, 0.88, 0.90, 0.74, 1.21)
			//    wilcox.test(x, y, alternative = "greater")  =>  W = 35, p-value = 0.1272
			name:      "R wilcox.test example, one-sided greater",
			canary:    []float64{0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46},
			primary:   []float64{1.15, 0.88, 0.90, 0.74, 1.21},
			direction: analysis.Increase,
			wantU:     35, wantP: 0.1272,
		},
		{
			// U = 17 of 20 pairs; exact one-sided p = 7/126 = 0.0556.
			name:      "five against four, one-sided greater",
			canary:    []float64{19, 22, 16, 29, 24},
			primary:   []float64{20, 11, 17, 12},
			direction: analysis.Increase,
			wantU:     17, wantP: 7.0 / 126,
		},
		{
			// The same samples seen from the other side: less is the other tail.
			name:      "five against four, one-sided less",
			canary:    []float64{20, 11, 17, 12},
			primary:   []float64{19, 22, 16, 29, 24},
			direction: analysis.Decrease,
			wantU:     3, wantP: 7.0 / 126,
		},
		{
			// Complete separation of 6 and 6: p = 1/C(12,6) = 1/924.
			name:      "a canary clearly slower",
			canary:    []float64{210, 220, 230, 240, 250, 260},
			primary:   []float64{100, 101, 102, 103, 104, 105},
			direction: analysis.Increase,
			wantU:     36, wantP: 1.0 / 924,
			wantWorseAt95: true,
		},
		{
			// Significant but within the tolerated effect size: passes.
			name:      "a canary slower by less than the tolerance",
			canary:    []float64{105, 106, 107, 108, 109, 110},
			primary:   []float64{100, 101, 102, 103, 104, 104.5},
			direction: analysis.Increase,
			wantU:     36, wantP: 1.0 / 924,
			maxEffectTolerate: 0.2,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			maxEffect := tc.maxEffectTolerate
			if maxEffect == 0 {
				maxEffect = 0.1
			}
			got, err := analysis.CompareSamples(tc.canary, tc.primary, tc.direction, 0.95, maxEffect, 3)
			if err != nil {
				t.Fatal(err)
			}
			if got.U != tc.wantU {
				t.Errorf("U = %v, want %v", got.U, tc.wantU)
			}
			if math.Abs(got.PValue-tc.wantP) > 5e-5 {
				t.Errorf("p = %.5f, want %.5f", got.PValue, tc.wantP)
			}
			if got.Worse != tc.wantWorseAt95 {
				t.Errorf("worse = %v, want %v (p %.4f, effect %.3f)", got.Worse, tc.wantWorseAt95, got.PValue, got.EffectSize)
			}
		})
	}
}

func TestCompareSamplesWithTies(t *testing.T) {
	// Ties count half: U of {1,2,2} against {2,3} is 0 + 0.5 + 0.5 = 1 (pairs canary > primary).
	got, err := analysis.CompareSamples([]float64{1, 2, 2}, []float64{2, 3}, analysis.Increase, 0.5, 0.1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got.U != 1 {
		t.Errorf("U = %v, want 1", got.U)
	}
	if got.PValue < 0.5 || got.Worse {
		t.Errorf("a canary lower than the primary is not worse in the Increase direction: p %.3f, worse %v", got.PValue, got.Worse)
	}
}

func TestCompareSamplesIdenticalSamplesPass(t *testing.T) {
	got, err := analysis.CompareSamples([]float64{5, 5, 5}, []float64{5, 5, 5, 5}, analysis.Increase, 0.95, 0.1, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got.Worse || got.PValue != 1 || got.EffectSize != 0 {
		t.Errorf("identical samples: %+v, want not worse, p 1, effect 0", got)
	}
}

func TestCompareSamplesEmptyOrNaNSampleIsNoSample(t *testing.T) {
	for _, tc := range []struct {
		name            string
		canary, primary []float64
	}{
		{"empty canary", nil, []float64{1, 2}},
		{"empty primary", []float64{1, 2}, nil},
		{"only NaN", []float64{math.NaN(), math.NaN()}, []float64{1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := analysis.CompareSamples(tc.canary, tc.primary, analysis.Increase, 0.95, 0.1, 3); err != analysis.ErrNoSample {
				t.Errorf("err = %v, want ErrNoSample", err)
			}
		})
	}
}
