package rollout

import (
	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// replan keeps a rollout whose step plan was edited at the weight it had reached: it goes on
// from there upward, never back down, since an edit of the plan is not a verdict on the
// canary. The step becomes the last one of the new plan at or below the current weight, so
// that the next step is the first planned weight above it; when every planned weight is
// above it, the rollout moves up to the first, as a step of its own (judged an interval
// later). A plan that became an A/B test routes by request, not by weight: the rollout starts
// again from its first step.
func (d *decider) replan() (restarted bool) {
	st := &d.status
	steps := Steps(d.obs.Spec.Analysis)
	if i := int(st.StepIndex); len(steps) == 0 || i >= 1 && i <= len(steps) && steps[i-1].Weight == st.CanaryWeight {
		return false // the plan still has this step where the rollout stands
	}
	if steps[0].Match {
		d.start(fledgev1alpha1.ReasonRestarted, "the step plan became an A/B test during the rollout: starting again from its first step with revision %s", st.CanaryRevision)
		return true
	}
	at := 0
	for i, step := range steps {
		if step.Weight <= st.CanaryWeight {
			at = i + 1
		}
	}
	moved := at == 0
	if moved {
		at = 1
		st.CanaryWeight = steps[0].Weight
	}
	st.StepIndex = int32(at)
	if step := steps[at-1]; step.Match || step.Mirror {
		st.Iterations = st.StepIndex
	}
	if moved {
		// A new weight is judged on its own traffic, an interval from now.
		st.LastCheckTime, st.LastTransitionTime = d.now(), d.now()
		d.recordStep()
	}
	d.event(false, fledgev1alpha1.ReasonReplanned, "the step plan changed: the rollout goes on from canary weight %d%%, at step %d of %d",
		st.CanaryWeight, st.StepIndex, len(steps))
	return false
}
