package main

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
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
it took, and why it ended.

Fledge keeps no history object: this is rebuilt from the canary's events (RolloutStarted,
RolloutRestarted, Promoting, Promoted, Aborted, RolloutCancelled) and its status. The API
server deletes events after its --event-ttl (one hour by default), so older rollouts do
not show; the status always tells the last one.`,
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
	events, readable, err := s.eventsOf(ctx, canary)
	if err != nil {
		return fmt.Errorf("list the events of canary %s: %w", name, err)
	}
	if !readable {
		fmt.Fprintln(s.streams.ErrOut, "your account may not list events: only the last rollout (from the status) shows")
	}
	records := rolloutHistory(canary, events)
	if len(records) == 0 {
		fmt.Fprintf(s.streams.ErrOut, "canary %s has no rollout on record (events are kept for an hour by default).\n", name)
		return nil
	}
	writeHistory(s.streams.Out, styleFor(s.streams.Out), records, time.Now())
	return nil
}

// rolloutRecord is one past (or running) rollout.
type rolloutRecord struct {
	Revision string
	// Result is Succeeded, Failed, Cancelled, Superseded (a newer revision replaced it
	// mid-way) or Running.
	Result  string
	Started time.Time
	// Ended is zero while the rollout runs, or when its start is not on record.
	Ended time.Time
	Why   string
}

const (
	resultSucceeded  = "Succeeded"
	resultFailed     = "Failed"
	resultCancelled  = "Cancelled"
	resultSuperseded = "Superseded"
	resultRunning    = "Running"
)

// revisionInMessage finds the revision in Fledge's event messages ("new revision 1a2b3c...:",
// "revision 1a2b3c... was promoted", "rollout of revision 1a2b3c... aborted").
var revisionInMessage = regexp.MustCompile(`\brevision ([^\s:;,]+)`)

// rolloutHistory rebuilds the rollouts from the canary's events (oldest first) and completes
// the last one from the status.
func rolloutHistory(canary *fledgev1alpha1.Canary, events []corev1.Event) []rolloutRecord {
	var records []rolloutRecord
	var current *rolloutRecord
	closeCurrent := func(result, why string, at time.Time) {
		if current == nil {
			// Its start is older than the events on record.
			records = append(records, rolloutRecord{Revision: "?"})
			current = &records[len(records)-1]
		}
		current.Result, current.Ended = result, at
		if why != "" {
			current.Why = why
		}
		current = nil
	}
	for i := range events {
		e := &events[i]
		at := firstSeen(e)
		revision := ""
		if m := revisionInMessage.FindStringSubmatch(e.Message); m != nil {
			revision = m[1]
		}
		switch e.Reason {
		case rollout.ReasonStarted, rollout.ReasonRestarted:
			if current != nil {
				closeCurrent(resultSuperseded, "the target changed to revision "+revision+" during the rollout", at)
			}
			records = append(records, rolloutRecord{Revision: revision, Result: resultRunning, Started: at})
			current = &records[len(records)-1]
		case rollout.ReasonPromoting:
			// "<why>: all traffic goes to the canary while ..." tells why it was promoted.
			if current != nil {
				why, _, _ := strings.Cut(e.Message, ": all traffic goes to the canary")
				current.Why = why
			}
		case rollout.ReasonPromoted:
			why := "promoted" // unless the Promoting event said why
			if current != nil && current.Why != "" {
				why = ""
			}
			closeCurrent(resultSucceeded, why, at)
			fixRevision(records, revision)
		case rollout.ReasonAborted:
			_, why, found := strings.Cut(e.Message, "all traffic back to the primary: ")
			if !found {
				why = e.Message
			}
			closeCurrent(resultFailed, why, at)
			fixRevision(records, revision)
		case rollout.ReasonCancelled:
			closeCurrent(resultCancelled, e.Message, at)
		}
	}
	return completeFromStatus(records, canary.Status)
}

// fixRevision names the revision of the last record when its start was not on record.
func fixRevision(records []rolloutRecord, revision string) {
	if last := &records[len(records)-1]; last.Revision == "?" && revision != "" {
		last.Revision = revision
	}
}

// completeFromStatus settles the last rollout with what the status says, which outlives
// the events.
func completeFromStatus(records []rolloutRecord, st fledgev1alpha1.CanaryStatus) []rolloutRecord {
	if st.RolloutID == "" || st.RolloutStartTime == nil {
		return records
	}
	started := st.RolloutStartTime.Time
	var last *rolloutRecord
	if n := len(records); n > 0 && !records[n-1].Started.Before(started.Add(-time.Second)) {
		last = &records[n-1]
	} else {
		records = append(records, rolloutRecord{Revision: st.CanaryRevision, Started: started, Result: resultRunning})
		last = &records[len(records)-1]
	}
	switch {
	case running(st.Phase):
		last.Result, last.Why = resultRunning, st.Message
	case last.Result == resultRunning && finished(st.Phase):
		last.Result, last.Why = string(st.Phase), st.Message
		if st.LastTransitionTime != nil {
			last.Ended = st.LastTransitionTime.Time
		}
	}
	return records
}

func writeHistory(w io.Writer, st style, records []rolloutRecord, now time.Time) {
	t := &table{}
	t.add("REVISION", "RESULT", "STARTED", "TOOK", "WHY")
	for _, r := range records {
		started, took := "?", "-"
		if !r.Started.IsZero() {
			started = age(r.Started, now) + " ago"
			if !r.Ended.IsZero() {
				took = duration.HumanDuration(r.Ended.Sub(r.Started))
			}
		}
		t.add(r.Revision, st.result(r.Result), started, took, r.Why)
	}
	t.write(w, "")
}

// result colours the result of a rollout like a phase.
func (s style) result(result string) string {
	if result == resultRunning {
		return s.paint(yellow, result)
	}
	return s.phase(result)
}
