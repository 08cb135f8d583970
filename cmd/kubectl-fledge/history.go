package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/rollout"
)

func newHistoryCommand(s *session) *cobra.Command {
	return &cobra.Command{
		Use:   "history NAME",
		Short: "List the canary's past rollouts: revision, result, when and why",
		Long: `List the canary's past rollouts, oldest first: the revision, how the rollout ended
(Succeeded, Failed, Cancelled, Superseded, or still Running), when it started, how long
it took, how far through its steps it got, and why it ended (and who ended it, when a
manual promote or abort did).

The history lives in the canary's status (status.history), where Fledge records each
rollout as it starts and ends: it does not depend on events, so it outlives their expiry,
and it keeps the last 20 rollouts for as long as the canary exists. A canary last written
by an older Fledge, whose status has no history, shows only its last rollout, from the
status.`,
		Example:           `  kubectl fledge history web -n shop`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeCanaryNames(s),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := s.connect(); err != nil {
				return err
			}
			return showHistory(cmd.Context(), s, args[0])
		},
	}
}

func showHistory(ctx context.Context, s *session, name string) error {
	canary, err := s.getCanary(ctx, name)
	if err != nil {
		return err
	}
	printHistory(s.streams.Out, s.streams.ErrOut, styleFor(s.streams.Out), canary, time.Now())
	return nil
}

// printHistory writes the canary's rollouts as a table to out, and to errOut what the
// reader should know about them (none on record, or only the last one).
func printHistory(out, errOut io.Writer, st style, canary *fledgev1alpha1.Canary, now time.Time) {
	records := canary.Status.History
	if len(records) == 0 {
		last, ok := lastRolloutFromStatus(canary)
		if !ok {
			fmt.Fprintf(errOut, "canary %s has no rollout on record.\n", canary.Name)
			return
		}
		fmt.Fprintf(errOut, "canary %s has no history in its status (an older Fledge wrote it): only its last rollout shows, from the status.\n", canary.Name)
		records = []fledgev1alpha1.RolloutRecord{last}
	}
	writeHistory(out, st, records, now)
}

// lastRolloutFromStatus tells the last rollout from the status fields an older controller
// wrote, which kept no history: rolloutID, canaryRevision, rolloutStartTime, phase and
// message. It reports false when no rollout has run.
func lastRolloutFromStatus(canary *fledgev1alpha1.Canary) (fledgev1alpha1.RolloutRecord, bool) {
	st := canary.Status
	if st.RolloutID == "" {
		return fledgev1alpha1.RolloutRecord{}, false
	}
	r := fledgev1alpha1.RolloutRecord{
		ID:           st.RolloutID,
		Revision:     st.CanaryRevision,
		FailedChecks: st.FailedChecks,
		Message:      st.Message,
	}
	if st.RolloutStartTime != nil {
		r.StartTime = *st.RolloutStartTime
	}
	switch {
	case running(st.Phase):
		r.Result = fledgev1alpha1.ResultRunning
		r.StepsReached, r.StepsTotal = st.StepIndex, int32(len(rollout.Steps(canary.Spec.Analysis)))
	case finished(st.Phase):
		// The status does not keep how far a finished rollout got.
		r.Result = fledgev1alpha1.RolloutResult(st.Phase) // Succeeded (a cancel too) or Failed
		if st.LastTransitionTime != nil {
			r.EndTime = ptr(metav1.NewTime(st.LastTransitionTime.Time))
		}
	default:
		r.Result = fledgev1alpha1.RolloutResult(st.Phase)
	}
	return r, true
}

func writeHistory(w io.Writer, st style, records []fledgev1alpha1.RolloutRecord, now time.Time) {
	t := &table{}
	t.add("REVISION", "RESULT", "STARTED", "TOOK", "STEPS", "BY", "WHY")
	for i := range records {
		r := &records[i]
		started, took := "?", "-"
		if !r.StartTime.IsZero() {
			started = age(r.StartTime.Time, now) + " ago"
			if r.Result != fledgev1alpha1.ResultRunning && r.EndTime != nil && !r.EndTime.IsZero() {
				took = duration.HumanDuration(r.EndTime.Sub(r.StartTime.Time))
			}
		}
		// BY: who ended it with a manual promote or abort, as the request named them.
		t.add(orDash(r.Revision), st.result(r.Result), started, took, steps(r), orDash(r.EndedBy), why(r))
	}
	t.write(w, "")
}

// steps is how far through its plan the rollout got ("3/5"), "-" when its plan had no steps
// or is not on record.
func steps(r *fledgev1alpha1.RolloutRecord) string {
	if r.StepsTotal <= 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d", r.StepsReached, r.StepsTotal)
}

// why is the record's message.
func why(r *fledgev1alpha1.RolloutRecord) string { return orDash(r.Message) }

// result colours the result of a rollout like a phase: Running yellow, Succeeded green,
// Failed red; Cancelled and Superseded stay plain.
func (s style) result(result fledgev1alpha1.RolloutResult) string {
	if result == fledgev1alpha1.ResultRunning {
		return s.paint(yellow, string(result))
	}
	return s.phase(orDash(string(result)))
}
