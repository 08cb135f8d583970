package main

import (
	"fmt"
	"io"
	"time"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

func running(phase fledgev1alpha1.CanaryPhase) bool {
	return phase == fledgev1alpha1.PhaseProgressing || phase == fledgev1alpha1.PhasePromoting
}

func finished(phase fledgev1alpha1.CanaryPhase) bool {
	return phase == fledgev1alpha1.PhaseSucceeded || phase == fledgev1alpha1.PhaseFailed
}

// rolloutTracker tells when a rollout has ended: one that ran when watching started, or one
// that started since (even if it ended between two looks, which a new rolloutID reveals).
type rolloutTracker struct {
	startID    string
	sawRunning bool
}

func newRolloutTracker(c *fledgev1alpha1.Canary) *rolloutTracker {
	return &rolloutTracker{startID: c.Status.RolloutID, sawRunning: running(c.Status.Phase)}
}

func (t *rolloutTracker) ended(c *fledgev1alpha1.Canary) (bool, fledgev1alpha1.CanaryPhase) {
	phase := c.Status.Phase
	if running(phase) {
		t.sawRunning = true
		return false, phase
	}
	return finished(phase) && (t.sawRunning || c.Status.RolloutID != t.startID), phase
}

// rolloutResult prints how a rollout ended, and ends the command with status 0 when it
// succeeded and 1 when it failed.
func rolloutResult(out io.Writer, st style, c *fledgev1alpha1.Canary, phase fledgev1alpha1.CanaryPhase) error {
	if phase == fledgev1alpha1.PhaseSucceeded {
		fmt.Fprintf(out, "canary %s: rollout %s: %s\n", c.Name, st.paint(green, "succeeded"), c.Status.Message)
		return nil
	}
	fmt.Fprintf(out, "canary %s: rollout %s: %s\n", c.Name, st.paint(red, "failed"), c.Status.Message)
	return &exitError{code: exitFailed}
}

func timedOut(timeout time.Duration, c *fledgev1alpha1.Canary) error {
	return &exitError{code: exitTimedOut, message: fmt.Sprintf("error: timed out after %s waiting for the rollout of canary %s in namespace %s to end", timeout, c.Name, c.Namespace)}
}
