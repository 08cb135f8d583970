package chaos_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/test/fakeslack"
)

// tally counts what must never happen, over every application of a run.
type tally struct {
	Rollouts int
	// WrongEnds are rollouts that ended other than their metrics call for; Unfinished, those
	// that did not end in time; Misread, releases whose wait took another rollout's end for
	// theirs (a fault of the suite, which would skew every other count).
	WrongEnds, Unfinished, Misread int
	// Regressions are canary weights that went down without the rollout ending.
	Regressions int
	// Repeats and Skips are steps taken twice, or jumped over.
	Repeats, Skips int
	// EventDuplicates and EventLosses compare the Kubernetes Events of the transitions
	// (Advanced, Promoted, Aborted) with the transitions the status went through.
	EventDuplicates, EventLosses int
	// SlackDuplicates and SlackLosses: one rollout message and one reply per turn that has
	// one, in Slack.
	SlackDuplicates, SlackLosses int
	// OutboxDrops are notifications the outbox let go before every provider had them (it was
	// full: the dispatcher fell far behind), whether or not the Slack count shows them.
	OutboxDrops int
	problems    []string
}

func (t *tally) problem(format string, args ...any) {
	if len(t.problems) < 20 {
		t.problems = append(t.problems, fmt.Sprintf(format, args...))
	}
}

// zero is nil when nothing that must never happen happened, else what did.
func (t tally) zero() error {
	if t.WrongEnds+t.Unfinished+t.Misread+t.Regressions+t.Repeats+t.Skips+t.EventDuplicates+t.EventLosses+t.SlackDuplicates+t.SlackLosses+t.OutboxDrops == 0 {
		return nil
	}
	return fmt.Errorf("%+v\n%s", t.counts(), strings.Join(t.problems, "\n"))
}

func (t tally) counts() string {
	return fmt.Sprintf("rollouts %d, wrong ends %d, unfinished %d, misread %d, regressions %d, repeats %d, skips %d, duplicate events %d, lost events %d, duplicate Slack messages %d, lost Slack messages %d, notifications dropped from a full outbox %d",
		t.Rollouts, t.WrongEnds, t.Unfinished, t.Misread, t.Regressions, t.Repeats, t.Skips, t.EventDuplicates, t.EventLosses, t.SlackDuplicates, t.SlackLosses, t.OutboxDrops)
}

// expectZeroTally waits, up to timeout, until the tally of apps has no problem (the record
// and the Canaries settle after the last rollout), and returns it.
func expectZeroTally(ctx context.Context, rec *recorder, apps []*chaosApp, timeout time.Duration) tally {
	GinkgoHelper()
	var t tally
	Eventually(func() error {
		var err error
		if t, err = tallyApps(ctx, rec, apps); err != nil {
			return err
		}
		return t.zero()
	}).WithContext(ctx).WithTimeout(timeout).WithPolling(2 * time.Second).Should(Succeed())
	return t
}

func tallyApps(ctx context.Context, rec *recorder, apps []*chaosApp) (tally, error) {
	var t tally
	if err := rec.err(); err != nil {
		return t, StopTrying("the record of the writes is partial").Wrap(err)
	}
	messages := slack.Messages()
	for _, a := range apps {
		if err := t.add(ctx, rec, a, messages); err != nil {
			return t, err
		}
	}
	return t, nil
}

func (t *tally) add(ctx context.Context, rec *recorder, a *chaosApp, messages []fakeslack.Message) error {
	weights, states := rec.snapshot(a.ns + "/web")
	t.Rollouts += len(a.rollouts)
	succeeded, failed := 0, 0
	seen := map[string]bool{}
	for _, r := range a.rollouts {
		if r.ended && seen[r.id] {
			t.Misread++
			t.problem("%s: two releases took rollout %s for theirs", a.ns, r.id)
		}
		seen[r.id] = true
		switch {
		case !r.ended:
			t.Unfinished++
			t.problem("%s: a rollout did not end", a.ns)
		case (r.phase == fledgev1alpha1.PhaseSucceeded) != r.good:
			t.WrongEnds++
			t.problem("%s: rollout %s of a version good=%v ended %s: %s", a.ns, r.id, r.good, r.phase, r.message)
		}
		switch r.phase {
		case fledgev1alpha1.PhaseSucceeded:
			succeeded++
		case fledgev1alpha1.PhaseFailed:
			failed++
		}
	}

	// Weights: within a rollout they only go up; they fall to 0 once, when it ends.
	withTraffic := map[string]bool{}
	for _, s := range states {
		if s.RolloutID != "" && (s.Weight > 0 || s.Phase == fledgev1alpha1.PhasePromoting) {
			withTraffic[s.RolloutID] = true
		}
	}
	drops := 0
	for i := 1; i < len(weights); i++ {
		switch prev, w := weights[i-1], weights[i]; {
		case w < prev && w != 0:
			t.Regressions++
			t.problem("%s: the canary weight went from %d to %d (weights %v)", a.ns, prev, w, weights)
		case w == 0 && prev > 0:
			drops++
		}
	}
	if drops > len(withTraffic) {
		t.Regressions += drops - len(withTraffic)
		t.problem("%s: the canary weight fell to 0 %d times for %d rollouts with traffic (weights %v)", a.ns, drops, len(withTraffic), weights)
	}

	// Steps: each once, in order.
	steps := map[string][]int32{}
	var order []string
	for _, s := range states {
		if s.Phase != fledgev1alpha1.PhaseProgressing || s.RolloutID == "" {
			continue
		}
		if _, ok := steps[s.RolloutID]; !ok {
			order = append(order, s.RolloutID)
		}
		if seq := steps[s.RolloutID]; len(seq) == 0 || seq[len(seq)-1] != s.Step {
			steps[s.RolloutID] = append(seq, s.Step)
		}
	}
	advanced := 0
	ends := map[string]fledgev1alpha1.CanaryPhase{}
	for _, r := range a.rollouts {
		ends[r.id] = r.phase
	}
	for _, id := range order {
		seq := steps[id]
		if last := seq[len(seq)-1]; ends[id] == fledgev1alpha1.PhaseSucceeded && int(last) != a.kind.steps() {
			t.Skips++
			t.problem("%s: rollout %s was promoted from step %d of %d (steps %v)", a.ns, id, last, a.kind.steps(), seq)
		}
		for i := 1; i < len(seq); i++ {
			switch {
			case seq[i] <= seq[i-1]:
				t.Repeats++
				t.problem("%s: rollout %s went through steps %v", a.ns, id, seq)
			case seq[i] > seq[i-1]+1:
				t.Skips++
				t.problem("%s: rollout %s went through steps %v", a.ns, id, seq)
			}
		}
		advanced += int(seq[len(seq)-1])
	}

	// Events: one per transition.
	events := &eventsv1.EventList{}
	if err := k8s.List(ctx, events, client.InNamespace(a.ns)); err != nil {
		return err
	}
	count := map[string]int{}
	notes := map[string][]string{}
	for _, e := range events.Items {
		if e.Regarding.Kind == "Canary" && e.Regarding.Name == "web" {
			n := 1
			if e.Series != nil {
				n = int(e.Series.Count) // repeated alike within minutes: one Event, counted
			}
			count[e.Reason] += n
			notes[e.Reason] = append(notes[e.Reason], e.Name+": "+e.Note)
		}
	}
	for reason, want := range map[string]int{fledgev1alpha1.ReasonAdvanced: advanced, fledgev1alpha1.ReasonPromoted: succeeded, fledgev1alpha1.ReasonAborted: failed} {
		switch got := count[reason]; {
		case got > want:
			t.EventDuplicates += got - want
			t.problem("%s: %d %s events for %d transitions", a.ns, got, reason, want)
		case got < want:
			t.EventLosses += want - got
			var ended []string
			for _, r := range a.rollouts {
				ended = append(ended, r.id+" "+string(r.phase))
			}
			// Which one is missing: the rollouts as they ended, and the Events there are.
			t.problem("%s: %d %s events for %d transitions; rollouts %v; events %v", a.ns, got, reason, want, ended, notes[reason])
		}
	}

	// Notifications: none let go undelivered.
	canary := &fledgev1alpha1.Canary{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: a.ns, Name: "web"}, canary); err != nil {
		return err
	}
	if n := canary.Status.Notifications; n != nil && n.Dropped > 0 {
		t.OutboxDrops += int(n.Dropped)
		t.problem("%s: %d notifications dropped from a full outbox", a.ns, n.Dropped)
	}

	// Slack: one message per rollout, one reply per notification, the end told in the thread.
	slackProblems := t.SlackDuplicates + t.SlackLosses
	defer func() {
		if t.SlackDuplicates+t.SlackLosses > slackProblems {
			t.problem("%s: %s", a.ns, deliveryOf(ctx, a))
		}
	}()
	for _, r := range a.rollouts {
		if !r.ended {
			continue
		}
		rolloutKey := a.uid + "." + r.id
		var top []fakeslack.Message
		for _, m := range messages {
			if m.ThreadTS == "" && payload(m, "rollout_id") == rolloutKey {
				top = append(top, m)
			}
		}
		if len(top) != 1 {
			if len(top) == 0 {
				t.SlackLosses++
			} else {
				t.SlackDuplicates += len(top) - 1
			}
			t.problem("%s: %d Slack messages for rollout %s", a.ns, len(top), r.id)
			continue
		}
		replies := map[string]int{}
		ending := false
		for _, m := range messages {
			if m.ThreadTS != top[0].TS || m.ThreadTS == m.TS {
				continue
			}
			replies[payload(m, "notification_id")]++
			kind := payload(m, "kind")
			ending = ending || kind == fledgev1alpha1.ReasonPromoted && r.phase == fledgev1alpha1.PhaseSucceeded ||
				kind == fledgev1alpha1.ReasonAborted && r.phase == fledgev1alpha1.PhaseFailed
		}
		for id, n := range replies {
			if n > 1 {
				t.SlackDuplicates += n - 1
				t.problem("%s: %d Slack replies for notification %s", a.ns, n, id)
			}
		}
		if !ending {
			t.SlackLosses++
			t.problem("%s: the thread of rollout %s does not tell how it ended (%s)", a.ns, r.id, r.phase)
		}
	}
	return nil
}

// deliveryOf says where the dispatcher stands with the app's notifications, to tell a loss
// given up (failures, last error) from one never tried.
func deliveryOf(ctx context.Context, a *chaosApp) string {
	c := &fledgev1alpha1.Canary{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: a.ns, Name: "web"}, c); err != nil {
		return "its Canary: " + err.Error()
	}
	n := c.Status.Notifications
	if n == nil {
		return "no notifications in its status"
	}
	out := fmt.Sprintf("outbox %d entries, next seq %d, %d dropped", len(n.Outbox), n.NextSeq, n.Dropped)
	for _, p := range n.Providers {
		out += fmt.Sprintf("; %s at seq %d, %d failures, %d attempts, last error %q", p.Provider, p.Seq, p.Failures, p.Attempts, p.LastError)
	}
	return out
}

func payload(m fakeslack.Message, key string) string {
	if m.Metadata == nil {
		return ""
	}
	return fmt.Sprint(m.Metadata.EventPayload[key])
}
