package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/rollout"
)

// recentEvents is how many events `get` shows.
const recentEvents = 5

// canaryView is what `get` shows of a canary. Ages stand at the ends of lines, so that the
// columns do not shift as time passes.
type canaryView struct {
	canary *fledgev1alpha1.Canary
	events []corev1.Event
	// eventsHidden is set when the account may not list events.
	eventsHidden bool
	now          time.Time
	style        style
}

func (v canaryView) write(w io.Writer) {
	c, st := v.canary, v.style
	summary := &table{}
	summary.add("Name:", st.paint(bold, c.Name))
	summary.add("Namespace:", c.Namespace)
	summary.add("Target:", "Deployment "+c.Spec.TargetRef.Name)
	summary.add("Phase:", v.phaseLine())
	summary.add("Plan:", planLine(c.Spec))
	summary.add("Traffic:", v.trafficLine())
	summary.add("Failed checks:", fmt.Sprintf("%d of threshold %d", c.Status.FailedChecks, c.Spec.Analysis.FailureThreshold()))
	summary.add("Revisions:", revisionsLine(c.Status))
	if c.Status.RolloutID != "" {
		line := c.Status.RolloutID
		if t := c.Status.RolloutStartTime; t != nil {
			line += ", started " + age(t.Time, v.now) + " ago"
		}
		summary.add("Rollout:", line)
	}
	if c.Spec.Suspend {
		summary.add("Suspended:", "yes (spec.suspend): no step runs")
	}
	if c.Status.Message != "" {
		summary.add("Message:", c.Status.Message)
	}
	if h := c.Status.LastHandledRequest; h != nil {
		outcome := st.paint(green, "accepted")
		if !h.Accepted {
			outcome = st.paint(red, "refused")
		}
		summary.add("Last request:", fmt.Sprintf("%s %s: %s (%s ago)", h.Action, outcome, h.Message, age(h.HandledAt.Time, v.now)))
	}
	summary.write(w, "")

	v.writeMetrics(w)
	v.writeConditions(w)
	v.writeEvents(w)
}

func (v canaryView) phaseLine() string {
	c := v.canary
	phase := v.style.phase(string(c.Status.Phase))
	if phase == "" {
		return "(not reconciled yet: is Fledge running?)"
	}
	n := len(rollout.Steps(c.Spec.Analysis))
	switch c.Status.Phase {
	case fledgev1alpha1.PhaseInitialized:
		phase += ", no rollout yet"
	case fledgev1alpha1.PhaseProgressing:
		if i := c.Status.StepIndex; i == 0 {
			phase += fmt.Sprintf(", before step 1 of %d (waiting for the canary)", n)
		} else {
			phase += fmt.Sprintf(", step %d of %d", i, n)
		}
	case fledgev1alpha1.PhasePromoting:
		phase += ", the canary serves all traffic while the primary takes its revision"
	case fledgev1alpha1.PhaseQueued:
		if q := c.Status.Queue; q != nil {
			phase += fmt.Sprintf(", revision %s waits for a rollout slot (for %s)", q.Revision, age(q.Since.Time, v.now))
		}
	}
	if c.Status.Paused {
		phase += ", " + v.style.paint(yellow, "paused")
	}
	return phase
}

// planLine describes the steps of a rollout, as the controller plans them.
func planLine(spec fledgev1alpha1.CanarySpec) string {
	if spec.SkipAnalysis {
		return "no steps (skipAnalysis): a new revision is promoted as soon as it is ready"
	}
	steps := rollout.Steps(spec.Analysis)
	// Runs of equal steps (A/B or mirror iterations) are told once, with their count.
	var labels []string
	for i := 0; i < len(steps); {
		j := i
		for j < len(steps) && steps[j] == steps[i] {
			j++
		}
		label := stepLabel(steps[i])
		if j-i > 1 {
			label += fmt.Sprintf(" ×%d", j-i)
		}
		labels = append(labels, label)
		i = j
	}
	return fmt.Sprintf("%d steps, one every %s: %s", len(steps), shortDuration(spec.Analysis.StepInterval()), strings.Join(labels, ", "))
}

func stepLabel(step rollout.Step) string {
	switch {
	case step.Match:
		return "A/B"
	case step.Mirror:
		return "mirror"
	case step.Fault:
		return fmt.Sprintf("%d%% with faults", step.Weight)
	}
	return fmt.Sprintf("%d%%", step.Weight)
}

// shortDuration drops the zero units that time.Duration prints ("1h0m0s" is "1h").
func shortDuration(d time.Duration) string {
	text := d.String()
	if strings.HasSuffix(text, "m0s") {
		text = strings.TrimSuffix(text, "0s")
	}
	if strings.HasSuffix(text, "h0m") {
		text = strings.TrimSuffix(text, "0m")
	}
	return text
}

func (v canaryView) trafficLine() string {
	c := v.canary
	steps := rollout.Steps(c.Spec.Analysis)
	if i := int(c.Status.StepIndex); c.Status.Phase == fledgev1alpha1.PhaseProgressing && i >= 1 && i <= len(steps) {
		switch step := steps[i-1]; {
		case step.Match:
			return "A/B: the requests that match spec.analysis.match go to the canary"
		case step.Mirror:
			return "mirror: the primary serves all traffic; a copy of it goes to the canary"
		case step.Fault:
			return v.style.weightBar(c.Status.CanaryWeight, 30) + ", its calls to a dependency faulted"
		}
	}
	return v.style.weightBar(c.Status.CanaryWeight, 30)
}

func revisionsLine(st fledgev1alpha1.CanaryStatus) string {
	var parts []string
	if st.CanaryRevision != "" && st.CanaryRevision != st.LastPromotedRevision {
		parts = append(parts, "canary "+st.CanaryRevision)
	}
	if st.LastPromotedRevision != "" {
		parts = append(parts, "promoted "+st.LastPromotedRevision)
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func (v canaryView) writeConditions(w io.Writer) {
	conditions := v.canary.Status.Conditions
	if len(conditions) == 0 {
		return
	}
	fmt.Fprintln(w, "Conditions:")
	t := &table{}
	for _, c := range conditions {
		status := string(c.Status)
		switch {
		case c.Status == "True" && c.Type != fledgev1alpha1.ConditionProgressing:
			status = v.style.paint(green, status)
		case c.Status == "False" && c.Type != fledgev1alpha1.ConditionProgressing:
			status = v.style.paint(red, status)
		}
		t.add(c.Type, status, c.Reason, c.Message)
	}
	t.write(w, "  ")
}

func (v canaryView) writeEvents(w io.Writer) {
	if v.eventsHidden {
		fmt.Fprintln(w, "Events: (your account may not list events)")
		return
	}
	if len(v.events) == 0 {
		fmt.Fprintln(w, "Events: none (the API server keeps events for an hour by default)")
		return
	}
	fmt.Fprintf(w, "Events (last %d):\n", recentEvents)
	t := &table{}
	for _, e := range lastEvents(v.events, recentEvents) {
		kind := e.Type
		if kind == corev1.EventTypeWarning {
			kind = v.style.paint(red, kind)
		}
		t.add(kind, e.Reason, e.Message+" "+v.style.paint(grey, "("+eventAge(&e, v.now)+")"))
	}
	t.write(w, "  ")
}

// eventAge says when an event happened, and how often when it repeated.
func eventAge(e *corev1.Event, now time.Time) string {
	count := e.Count
	if e.Series != nil {
		count = e.Series.Count
	}
	if count > 1 {
		return fmt.Sprintf("%d times, last %s ago", count, age(lastSeen(e), now))
	}
	return age(lastSeen(e), now) + " ago"
}
