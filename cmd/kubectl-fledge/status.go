package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/rollout"
)

func newStatusCommand(s *session) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "status NAME",
		Short: "Wait until the canary's current rollout ends, like kubectl rollout status",
		Long: `Wait until the canary's current rollout ends, printing a line at each step.

Exit status: 0 when the rollout succeeded, 1 when it failed (or on an error), 2 when
--timeout passed first. When no rollout runs, it reports the last one at once (0 as well
when none has run yet).

Right after a change of the target Deployment, Fledge may not have started the new
rollout yet; the command then reports the previous one. In a pipeline, wait for the
phase Progressing first, or use "kubectl fledge get NAME --watch", which waits for a
rollout to start.`,
		Example: `  kubectl fledge status web
  kubectl fledge status web -n shop --timeout 15m`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeCanaryNames(s),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := s.connect(); err != nil {
				return err
			}
			return waitForRollout(cmd.Context(), s, args[0], timeout)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "give up after this long, with exit status 2 (0: no limit)")
	return cmd
}

func waitForRollout(ctx context.Context, s *session, name string, timeout time.Duration) error {
	canary, err := s.getCanary(ctx, name)
	if err != nil {
		return err
	}
	out, st := s.streams.Out, styleFor(s.streams.Out)
	if ended, err := reportIfIdle(s, canary, st); ended {
		return err
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	last := progressLine(canary)
	fmt.Fprintln(out, last)
	var result error
	err = s.followCanary(ctx, canary, func(c *fledgev1alpha1.Canary) (bool, error) {
		if ended, err := reportIfIdle(s, c, st); ended {
			result = err
			return true, nil
		}
		if line := progressLine(c); line != last {
			fmt.Fprintln(out, line)
			last = line
		}
		return false, nil
	})
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return timedOut(timeout, canary)
	case err != nil:
		return err
	}
	return result
}

// reportIfIdle reports the last rollout when none runs; it says whether it did.
func reportIfIdle(s *session, c *fledgev1alpha1.Canary, st style) (bool, error) {
	switch c.Status.Phase {
	case fledgev1alpha1.PhaseSucceeded, fledgev1alpha1.PhaseFailed:
		return true, rolloutResult(s.streams.Out, st, c, c.Status.Phase)
	case fledgev1alpha1.PhaseInitialized:
		fmt.Fprintf(s.streams.Out, "canary %s: no rollout has run yet: %s\n", c.Name, c.Status.Message)
		return true, nil
	}
	return false, nil
}

// progressLine says where a running rollout stands.
func progressLine(c *fledgev1alpha1.Canary) string {
	st := c.Status
	prefix := fmt.Sprintf("Waiting for canary %q rollout to finish: ", c.Name)
	switch st.Phase {
	case "", fledgev1alpha1.PhaseInitializing:
		return prefix + "initializing: " + st.Message
	case fledgev1alpha1.PhasePromoting:
		return prefix + "promoting: " + st.Message
	case fledgev1alpha1.PhaseQueued:
		return prefix + st.Message + "..."
	}
	n := len(rollout.Steps(c.Spec.Analysis))
	where := fmt.Sprintf("step %d of %d, canary weight %d%%", st.StepIndex, n, st.CanaryWeight)
	if st.StepIndex == 0 {
		where = "waiting for the canary to be ready"
	}
	line := fmt.Sprintf("%s%s, %d of %d checks failed", prefix, where, st.FailedChecks, c.Spec.Analysis.FailureThreshold())
	if st.Paused {
		line += ", paused"
	}
	return line + "..."
}
