package rollout

import (
	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// Step is one step of a rollout's plan.
type Step struct {
	// Weight is the share of all traffic the canary gets (0 in an A/B step).
	Weight int32
	// Match is true in an A/B step: the requests that match spec.analysis.match, and only
	// those, go to the canary.
	Match bool
	// Mirror is true in a mirror step: a copy of live traffic goes to the canary, whose
	// answers are discarded.
	Mirror bool
	// Fault is true in a fault-injection step: the canary's calls to a dependency fail or
	// slow down, at the weight of the first traffic step.
	Fault bool
}

// Steps is the plan of a rollout: one A/B step per iteration when spec.analysis.match is set;
// otherwise one mirror step per iteration when spec.analysis.mirror is set, then one traffic
// step per weight of StepWeights, with the fault-injection steps after the first of them.
func Steps(analysis fledgev1alpha1.CanaryAnalysis) []Step {
	iterations := int32(1)
	if analysis.Iterations != nil && *analysis.Iterations > 0 {
		iterations = *analysis.Iterations
	}
	if len(analysis.Match) > 0 {
		steps := make([]Step, iterations)
		for i := range steps {
			steps[i] = Step{Match: true}
		}
		return steps
	}
	var steps []Step
	if analysis.Mirror != nil {
		for range iterations {
			steps = append(steps, Step{Mirror: true})
		}
	}
	for i, w := range StepWeights(analysis) {
		steps = append(steps, Step{Weight: w})
		if f := analysis.FaultInjection; i == 0 && f != nil {
			for range max(f.Iterations, 1) {
				steps = append(steps, Step{Weight: w, Fault: true})
			}
		}
	}
	return steps
}

// StepWeights is the canary weight of each traffic step: the explicit stepWeights, or
// stepWeight, 2×stepWeight, ... up to maxWeight (which is always the last step). With nothing
// set it is 20, 40, 60, 80.
func StepWeights(analysis fledgev1alpha1.CanaryAnalysis) []int32 {
	if len(analysis.StepWeights) > 0 {
		return analysis.StepWeights
	}
	step, maxWeight := int32(fledgev1alpha1.DefaultStepWeight), int32(fledgev1alpha1.DefaultMaxWeight)
	if analysis.StepWeight != nil {
		step = *analysis.StepWeight
	}
	if analysis.MaxWeight != nil {
		maxWeight = *analysis.MaxWeight
	}
	if step <= 0 {
		step = fledgev1alpha1.DefaultStepWeight
	}
	if maxWeight < step {
		maxWeight = step
	}
	var weights []int32
	for w := step; w < maxWeight; w += step {
		weights = append(weights, w)
	}
	return append(weights, maxWeight)
}
