package rollout

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"fledge.dev/fledge/analysis"
	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// Event is a transition worth telling people about (a Kubernetes Event, later Slack).
type Event struct {
	Warning bool
	Reason  string
	Message string
}

// Decision is the next move of a canary: its new status, what the cluster must look like,
// the events of its transitions, what to measure, and when to look again.
type Decision struct {
	Status fledgev1alpha1.CanaryStatus
	// Want is what the cluster must look like for Status (DesiredFor).
	Want   Desired
	Events []Event
	// Check, when set, asks for the verdict of the step's checks: run them and decide again
	// with the verdict in Observation.Checks. Status holds no judgement until then.
	Check *CheckRequest
	// Preflight asks to probe the metrics providers now: a rollout starts.
	Preflight bool
	// RequeueAfter is when a timer must wake the canary (a step falls due, a deadline passes);
	// zero when only a change in the cluster (or a verdict) can move it on.
	RequeueAfter time.Duration
}

// CheckRequest asks for the verdict of the checks of one step at one due time.
type CheckRequest struct {
	// Key names that step and due time: a verdict for another key is not this one.
	Key string
}

// Decide returns the next move of a canary.
func Decide(obs Observation) Decision {
	d := &decider{obs: &obs, mode: modeOf(&obs.Spec), status: *obs.Status.DeepCopy()}
	d.status.ObservedGeneration = obs.Generation
	d.decide()
	d.status.Message = fledgev1alpha1.Bound(d.status.Message, fledgev1alpha1.MaxMessage)
	setConditions(&d.status, obs.Now, obs.Generation, d.notReady)
	if until, ok := drainingUntil(&obs.Spec, &d.status); ok && obs.Now.Before(until) {
		d.requeueAt(until) // to scale the canary down then
	}
	return Decision{
		Status: d.status, Want: DesiredFor(&obs.Spec, &d.status, obs.Now), Events: d.events, Check: d.check, Preflight: d.preflight, RequeueAfter: d.requeue,
	}
}

type decider struct {
	obs       *Observation
	mode      mode
	status    fledgev1alpha1.CanaryStatus
	events    []Event
	check     *CheckRequest
	preflight bool
	// notReady, when set, overrides the Ready condition the phase implies.
	notReady *metav1.Condition
	requeue  time.Duration
}

func (d *decider) decide() {
	if !d.obs.Target.Exists {
		d.targetGone()
		return
	}
	d.targetBack()
	d.adoptReplicas()
	if d.status.Phase == "" || d.status.Phase == fledgev1alpha1.PhaseInitializing {
		if d.initialise(); d.status.Phase == fledgev1alpha1.PhaseInitializing {
			return
		}
	}
	if d.obs.Spec.Suspend {
		d.status.Message = "suspended (spec.suspend): traffic stays where it is and no step runs"
		d.rejectRequest("the Canary is suspended: set spec.suspend to false first")
		return
	}
	d.handleRequest()
	switch d.status.Phase {
	case fledgev1alpha1.PhaseProgressing:
		d.progress()
	case fledgev1alpha1.PhasePromoting:
		d.promoting()
	default:
		d.maybeStart()
	}
}

// adoptReplicas takes the target's replicas as the size of each version: Fledge keeps the
// target itself at zero, so any other count is the user's (or an autoscaler's) wish.
func (d *decider) adoptReplicas() {
	if !d.mode.sizesVersions() {
		return
	}
	target := d.obs.Target.Replicas
	switch {
	case target > 0 && target != d.status.Replicas:
		if d.status.Replicas != 0 {
			d.event(false, fledgev1alpha1.ReasonReplicasAdjusted, "each version now runs %d replicas, as the target asks", target)
		}
		d.status.Replicas = target
	case d.status.Replicas == 0:
		d.status.Replicas = 1
	}
}

func (d *decider) initialise() {
	d.status.Phase = fledgev1alpha1.PhaseInitializing
	revision, serving := d.mode.stable(d.obs, d.status.Replicas)
	d.status.LastPromotedRevision = revision
	if !serving {
		d.status.Message = "waiting for the primary to be ready"
		return
	}
	d.status.Phase = fledgev1alpha1.PhaseInitialized
	d.status.CanaryWeight = 0
	d.status.LastTransitionTime = d.now()
	d.status.Message = "the primary serves all traffic"
	d.event(false, fledgev1alpha1.ReasonInitialized, "the primary is ready and serves all traffic; the next change of the target starts a rollout")
}

// maybeStart starts a rollout when the target carries a revision that was neither promoted
// nor already rejected.
func (d *decider) maybeStart() {
	revision, st := d.obs.Target.Revision, &d.status
	switch {
	case revision == st.LastPromotedRevision:
		d.dequeue("the target went back to the promoted revision " + revision)
	case queuedRetry(st, revision):
		d.start(fledgev1alpha1.ReasonStarted, "retry: starting the canary of revision %s again", revision)
	case endedPhase(st) == fledgev1alpha1.PhaseFailed && revision == st.CanaryRevision:
		// A failed revision stays failed until a retry or a new revision.
		d.dequeue("the target went back to revision " + revision + ", whose rollout failed")
	default:
		d.start(fledgev1alpha1.ReasonStarted, "new revision %s: starting the canary", revision)
	}
}

// start starts a rollout of the target's revision, or queues it when the cap on simultaneous
// rollouts is reached (a rollout that runs keeps its slot when it starts again).
func (d *decider) start(reason, format string, args ...any) {
	if d.obs.QueueFull != "" && !HoldsSlot(d.status.Phase) {
		d.enqueue()
		return
	}
	d.recordSuperseded() // before the fields of the replaced rollout are reset
	d.status.Phase = fledgev1alpha1.PhaseProgressing
	d.status.Queue = nil
	d.status.CanaryRevision = d.obs.Target.Revision
	d.status.RolloutID = fmt.Sprintf("%s-%d", d.obs.Target.Revision, d.obs.Now.Unix())
	started := metav1.NewTime(d.obs.Now)
	d.status.RolloutStartTime = &started
	d.status.StepIndex = 0
	d.status.CanaryWeight = 0
	d.status.FailedChecks = 0
	d.status.Iterations = 0
	d.status.LastCheckTime = nil
	d.status.Metrics = nil // the results of the last rollout say nothing of this one
	d.status.LastTransitionTime = d.now()
	d.event(false, reason, format, args...)
	d.recordStart()
	d.preflight = true // a provider out of reach shows before the first step
	d.awaitCanary()
}

func (d *decider) progress() {
	obs, st := d.obs, &d.status
	if obs.Target.Revision != st.CanaryRevision {
		if obs.Target.Revision == st.LastPromotedRevision {
			msg := "the target went back to the promoted revision; the rollout was cancelled"
			d.finish(fledgev1alpha1.PhaseSucceeded, fledgev1alpha1.ResultCancelled, msg, msg)
			d.event(false, fledgev1alpha1.ReasonCancelled, "the target went back to the promoted revision %s; all traffic returns to the primary", st.LastPromotedRevision)
			return
		}
		d.start(fledgev1alpha1.ReasonRestarted, "the target changed during the rollout: starting again from the first step with revision %s", obs.Target.Revision)
		return
	}
	if st.StepIndex == 0 {
		d.awaitCanary()
		return
	}
	if obs.Generation != obs.Status.ObservedGeneration && d.replan() {
		return
	}
	if st.Paused {
		st.Message = fmt.Sprintf("paused at step %d of %d (%s)", st.StepIndex, len(Steps(obs.Spec.Analysis)), describeStep(obs.Spec.Analysis, st))
		return
	}
	if actsFailed(&obs.Status) {
		d.holdUnapplied()
		return
	}
	due := d.nextCheck()
	if obs.Now.Before(due) {
		d.requeueAt(due)
		return
	}
	d.judge()
}

// holdUnapplied holds a step whose routes or copies could not be put in place (a webhook
// that times out, an API server that refuses): the traffic is not the step's, so the step
// is neither judged nor left. Its interval counts again from the last try, so that the first
// check after the changes land measures a whole interval of the step's own traffic.
func (d *decider) holdUnapplied() {
	st := &d.status
	st.LastCheckTime = d.now()
	st.Message = d.stepMessage()
	d.requeueAt(d.obs.Now.Add(d.obs.Spec.Analysis.StepInterval()))
}

// stepMessage says which step of how many the status is at, and what it does.
func (d *decider) stepMessage() string {
	return fmt.Sprintf("step %d of %d: %s", d.status.StepIndex, len(Steps(d.obs.Spec.Analysis)), describeStep(d.obs.Spec.Analysis, &d.status))
}

// actsFailed reports whether the recorded status says that the acts of its decision did not
// go through (the reconciler records that as Ready=False, ApplyFailed, until they do).
func actsFailed(st *fledgev1alpha1.CanaryStatus) bool {
	c := meta.FindStatusCondition(st.Conditions, fledgev1alpha1.ConditionReady)
	return c != nil && c.Status == metav1.ConditionFalse && c.Reason == fledgev1alpha1.ReasonApplyFailed
}

// awaitCanary waits for the canary to be ready before the first traffic step.
func (d *decider) awaitCanary() {
	obs, st := d.obs, &d.status
	canary := obs.Canary
	if d.ready(canary, st.CanaryRevision) {
		switch {
		case obs.Spec.SkipAnalysis:
			d.enterPromoting("skipAnalysis is set")
		case st.Paused:
			st.Message = "paused before the first step; the canary is ready"
		default:
			d.advance()
		}
		return
	}
	deadline := d.stepStart().Add(obs.Spec.ProgressDeadline())
	if !obs.Now.Before(deadline) {
		d.abort("the canary was not ready within the progress deadline (%s): %s", obs.Spec.ProgressDeadline(), orUnknown(canary.Progress))
		return
	}
	// No replica counts here: they change with each Deployment update, and each change would
	// be a status write.
	st.Message = "waiting for the canary to be ready"
	d.requeueAt(deadline)
}

// judge takes the verdict of the step's checks.
func (d *decider) judge() {
	obs, st := d.obs, &d.status
	if !obs.Canary.Ready {
		d.failCheck("the canary is not ready: " + orUnknown(obs.Canary.Progress))
		return
	}
	if obs.Checks == nil {
		// Nothing is judged until the verdict comes back: the reconciler runs the checks and
		// decides again with it.
		d.check = &CheckRequest{Key: d.checkKey()}
		// Their deadline is one interval: look again then, should their verdict never come.
		d.requeueAt(obs.Now.Add(obs.Spec.Analysis.StepInterval()))
		return
	}
	d.recordMetrics(obs.Checks)
	switch obs.Checks.Verdict {
	case analysis.Pass:
		d.advance()
	case analysis.Wait:
		st.LastCheckTime = d.checkTime()
		if !obs.Now.Before(d.stepStart().Add(obs.Spec.ProgressDeadline())) {
			d.failCheck("no verdict within the progress deadline: " + obs.Checks.Message)
			return
		}
		st.Message = "waiting: " + obs.Checks.Message
		d.event(false, fledgev1alpha1.ReasonWaiting, "step %d held without a verdict: %s", st.StepIndex, obs.Checks.Message)
		d.requeueAt(st.LastCheckTime.Add(obs.Spec.Analysis.StepInterval()))
	default:
		d.failCheck(obs.Checks.Message)
	}
}

// recordMetrics keeps the results of the checks in status, and whether every metric could be
// measured in the MetricsReady condition.
func (d *decider) recordMetrics(r *analysis.Result) {
	d.status.Metrics = analysis.Stamp(r.Metrics, d.obs.Now)
	c := metav1.Condition{Type: fledgev1alpha1.ConditionMetricsReady, Status: metav1.ConditionTrue, Reason: "Measured", Message: "every metric was measured"}
	if r.Problem != nil {
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, r.Problem.Reason, fledgev1alpha1.Bound(r.Problem.Message, fledgev1alpha1.MaxMessage)
	}
	c.LastTransitionTime = metav1.NewTime(d.obs.Now)
	c.ObservedGeneration = d.obs.Generation
	setCondition(&d.status, c)
}

// advance moves to the next traffic step, or to promotion after the last one.
func (d *decider) advance() {
	st := &d.status
	steps := Steps(d.obs.Spec.Analysis)
	if int(st.StepIndex) >= len(steps) {
		d.enterPromoting("every step passed")
		return
	}
	st.StepIndex++
	step := steps[st.StepIndex-1]
	st.CanaryWeight = step.Weight
	if step.Match || step.Mirror {
		st.Iterations = st.StepIndex
	}
	st.LastCheckTime = d.checkTime()
	st.LastTransitionTime = d.now()
	st.Message = d.stepMessage()
	d.recordStep()
	d.event(false, fledgev1alpha1.ReasonAdvanced, "%s", st.Message)
	d.requeueAt(st.LastCheckTime.Add(d.obs.Spec.Analysis.StepInterval()))
}

func (d *decider) failCheck(message string) {
	st := &d.status
	st.FailedChecks++
	st.LastCheckTime = d.checkTime()
	threshold := d.obs.Spec.Analysis.FailureThreshold()
	if st.FailedChecks >= threshold {
		d.abort("%d of %d checks failed; last: %s", st.FailedChecks, threshold, message)
		return
	}
	st.Message = fmt.Sprintf("halted at canary weight %d%%: check failed (%d of %d): %s", st.CanaryWeight, st.FailedChecks, threshold, message)
	d.event(true, fledgev1alpha1.ReasonHalted, "check failed (%d of %d) at canary weight %d%%: %s", st.FailedChecks, threshold, st.CanaryWeight, message)
	d.requeueAt(st.LastCheckTime.Add(d.obs.Spec.Analysis.StepInterval()))
}

func (d *decider) enterPromoting(why string) {
	st := &d.status
	st.Phase = fledgev1alpha1.PhasePromoting
	st.CanaryWeight = 100
	st.LastTransitionTime = d.now()
	d.event(false, fledgev1alpha1.ReasonPromoting, "%s: all traffic goes to the canary while the primary takes revision %s", why, st.CanaryRevision)
	d.promoting()
}

func (d *decider) promoting() {
	d.status.Message = "promoting: the canary serves all traffic while the primary takes revision " + d.status.CanaryRevision
	if d.mode.primaryTook(d.obs, d.status.CanaryRevision, d.status.Replicas) {
		promoted := d.status.CanaryRevision
		d.status.LastPromotedRevision = promoted
		msg := "revision " + promoted + " was promoted; the primary serves all traffic"
		d.finish(fledgev1alpha1.PhaseSucceeded, fledgev1alpha1.ResultSucceeded, msg, msg)
		meta := metav1.Condition{Type: fledgev1alpha1.ConditionPromoted, Status: metav1.ConditionTrue, Reason: "Promoted", Message: "revision " + promoted + " was promoted"}
		d.setPromoted(meta)
		d.event(false, fledgev1alpha1.ReasonPromoted, "revision %s was promoted; the primary serves all traffic", promoted)
	}
}

func (d *decider) abort(format string, args ...any) {
	reason := fmt.Sprintf(format, args...)
	d.finish(fledgev1alpha1.PhaseFailed, fledgev1alpha1.ResultFailed, "aborted: "+reason, reason)
	d.setPromoted(metav1.Condition{Type: fledgev1alpha1.ConditionPromoted, Status: metav1.ConditionFalse, Reason: "Aborted", Message: fledgev1alpha1.Bound(reason, fledgev1alpha1.MaxMessage)})
	d.event(true, fledgev1alpha1.ReasonAborted, "rollout of revision %s aborted, all traffic back to the primary: %s", d.status.CanaryRevision, reason)
}

// finish ends a rollout: all traffic on the version that was last promoted, the canary scaled
// down. message goes to the status, why to the rollout's record in the history.
func (d *decider) finish(phase fledgev1alpha1.CanaryPhase, result fledgev1alpha1.RolloutResult, message, why string) {
	st := &d.status
	d.recordEnd(result, why)
	st.Phase = phase
	st.CanaryWeight = d.mode.endWeight(phase)
	st.StepIndex = 0
	st.Paused = false
	st.LastTransitionTime = d.now()
	st.Message = message
}

func (d *decider) setPromoted(c metav1.Condition) {
	c.LastTransitionTime = metav1.NewTime(d.obs.Now)
	c.ObservedGeneration = d.obs.Generation
	setCondition(&d.status, c)
}

func (d *decider) event(warning bool, reason, format string, args ...any) {
	msg := fledgev1alpha1.Bound(fmt.Sprintf(format, args...), fledgev1alpha1.MaxEventMessage)
	d.events = append(d.events, Event{Warning: warning, Reason: reason, Message: msg})
}

// requeueAt asks to be woken at t (the earliest of several asks wins).
func (d *decider) requeueAt(t time.Time) {
	after := t.Sub(d.obs.Now)
	if after <= 0 {
		after = time.Millisecond
	}
	if d.requeue == 0 || after < d.requeue {
		d.requeue = after
	}
}

// now is the observation time as stored in status (microseconds, so that a restart computes
// the same due times).
func (d *decider) now() *metav1.MicroTime {
	t := metav1.NewMicroTime(d.obs.Now.Truncate(time.Microsecond))
	return &t
}

// describeStep says where the traffic goes at the current step.
func describeStep(analysis fledgev1alpha1.CanaryAnalysis, st *fledgev1alpha1.CanaryStatus) string {
	steps := Steps(analysis)
	if i := int(st.StepIndex); i >= 1 && i <= len(steps) {
		switch {
		case steps[i-1].Match:
			return "A/B: matching requests go to the canary"
		case steps[i-1].Mirror:
			return fmt.Sprintf("mirror: %d%% of live traffic is copied to the canary", analysis.Mirror.Percentage)
		case steps[i-1].Fault:
			return fmt.Sprintf("canary weight %d%%, with faults on its calls to %s", st.CanaryWeight, analysis.FaultInjection.Dependency)
		}
	}
	return fmt.Sprintf("canary weight %d%%", st.CanaryWeight)
}

// ready reports whether w runs revision with the replicas a version needs.
func (d *decider) ready(w Workload, revision string) bool {
	return w.Revision == revision && d.mode.ready(w, d.status.Replicas)
}

// checkTime is when the checks behind this decision ran: the interval counts from then, not
// from when their verdict came back, so that slow checks do not push every step later.
func (d *decider) checkTime() *metav1.MicroTime {
	if d.obs.Checks != nil && !d.obs.ChecksStarted.IsZero() && d.obs.ChecksStarted.Before(d.obs.Now) {
		t := metav1.NewMicroTime(d.obs.ChecksStarted.Truncate(time.Microsecond))
		return &t
	}
	return d.now()
}

// checkKey names the checks of the current step at its due time, for this spec: a verdict
// measured for another step, another due time or an older spec is not this one.
func (d *decider) checkKey() string {
	st := &d.status
	due := int64(0)
	if st.LastCheckTime != nil {
		due = st.LastCheckTime.UnixMicro()
	}
	return fmt.Sprintf("%s/%d/%d/%d/%d", st.RolloutID, st.StepIndex, st.FailedChecks, due, d.obs.Generation)
}

// nextCheck is when the current step's checks fall due.
func (d *decider) nextCheck() time.Time {
	if d.status.LastCheckTime == nil {
		return d.obs.Now
	}
	return d.status.LastCheckTime.Add(d.obs.Spec.Analysis.StepInterval())
}

// stepStart is when the current phase or step began.
func (d *decider) stepStart() time.Time {
	if d.status.LastTransitionTime == nil {
		return d.obs.Now
	}
	return d.status.LastTransitionTime.Time
}

func orUnknown(s string) string {
	if s == "" {
		return "not observed yet"
	}
	return s
}
