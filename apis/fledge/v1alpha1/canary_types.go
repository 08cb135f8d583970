package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CanarySpec says which Deployment to roll out, how it is exposed through Istio, and how each
// new revision must prove itself before it gets all the traffic.
// +kubebuilder:validation:XValidation:rule="!has(self.subsets) || (has(self.service.name) && size(self.service.name) > 0)",message="with subsets, set service.name to the existing Service that the DestinationRule's host names"
// +kubebuilder:validation:XValidation:rule="has(self.subsets) || (has(self.service.port) && self.service.port > 0)",message="service.port is required (the port the generated Service listens on)"
type CanarySpec struct {
	// targetRef names the Deployment that people edit. Each change of its pod template starts a
	// rollout. Fledge never edits its pod template. With subsets, it names the Deployment of
	// the candidate subset instead.
	// +required
	TargetRef TargetRef `json:"targetRef"`

	// subsets, when set, shifts traffic between two subsets of an existing DestinationRule
	// (for example the Deployments app-v1 and app-v2, labelled by version) instead of between
	// Fledge's own copies of the target. Fledge then creates no Deployment or Service; on
	// success it leaves all traffic on the candidate.
	// +optional
	Subsets *ExistingSubsets `json:"subsets,omitempty"`

	// service says how the application is exposed: the port, the hosts and gateways of the
	// generated VirtualService, and the Istio settings copied into the generated routes.
	// +required
	Service CanaryService `json:"service"`

	// analysis is the step plan and the checks that gate every step.
	// +optional
	// +kubebuilder:default={}
	Analysis CanaryAnalysis `json:"analysis,omitempty"`

	// skipAnalysis promotes a new revision as soon as it is ready, without traffic steps or checks.
	// +optional
	SkipAnalysis bool `json:"skipAnalysis,omitempty"`

	// suspend stops Fledge from acting on this Canary: traffic stays where it is and no step runs
	// until suspend is false again.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// revertOnDeletion gives the application back to the target when the Canary is deleted:
	// the target is scaled up to the primary's size, once it serves the VirtualService and
	// DestinationRule are handed back (the user's put back, Fledge's deleted) and the Service
	// selects the target's pods again, then the primary and Fledge's other objects are
	// deleted. It is off by default: the version last promoted keeps serving from the primary,
	// behind the same Service and routes, and nothing is redeployed. A target that carries a
	// revision other than the last promoted one (an aborted rollout) is not reverted to.
	// +optional
	RevertOnDeletion bool `json:"revertOnDeletion,omitempty"`

	// progressDeadlineSeconds is how long a new revision may take to become ready, and how long a
	// step may wait for enough traffic, before the rollout is aborted.
	// +optional
	// +kubebuilder:default=600
	// +kubebuilder:validation:Minimum=10
	// +kubebuilder:validation:Maximum=86400
	ProgressDeadlineSeconds *int32 `json:"progressDeadlineSeconds,omitempty"`

	// scaleDownDelaySeconds is how long the canary keeps running once a rollout has ended and
	// the routes no longer send to it, so that every sidecar has the new routes before its pods
	// go. istiod pushes a change to the proxies within a second on a quiet mesh and takes
	// longer on a busy one; a request a proxy still sends to pods that are gone fails. 0 scales
	// the canary down at once.
	// +optional
	// +kubebuilder:default=30
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=3600
	ScaleDownDelaySeconds *int32 `json:"scaleDownDelaySeconds,omitempty"`
}

// ExistingSubsets names two subsets of a DestinationRule the user manages.
// +kubebuilder:validation:XValidation:rule="self.stable != self.candidate",message="subsets.stable and subsets.candidate must be different subsets"
type ExistingSubsets struct {
	// destinationRule is the name of the DestinationRule, in the Canary's namespace, whose host
	// is the service and which defines both subsets.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	DestinationRule string `json:"destinationRule"`

	// stable is the subset that serves the traffic now.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Stable string `json:"stable"`

	// candidate is the subset under analysis; it serves the Deployment of targetRef.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Candidate string `json:"candidate"`
}

// TargetRef points at the Deployment under rollout, in the Canary's namespace.
// +kubebuilder:validation:XValidation:rule="self.kind == 'Deployment' && self.apiVersion == 'apps/v1'",message="targetRef must point at a Deployment: set apiVersion: apps/v1 and kind: Deployment"
type TargetRef struct {
	// apiVersion of the target.
	// +optional
	// +kubebuilder:default="apps/v1"
	APIVersion string `json:"apiVersion,omitempty"`

	// kind of the target; only Deployment is supported.
	// +optional
	// +kubebuilder:default=Deployment
	Kind string `json:"kind,omitempty"`

	// name of the Deployment in the Canary's namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=240
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`
}

// CanaryPhase is where a Canary stands in its life.
// +kubebuilder:validation:Enum=Initializing;Initialized;Queued;Progressing;Promoting;Succeeded;Failed
type CanaryPhase string

const (
	// PhaseInitializing: Fledge is creating the primary copy and the routes.
	PhaseInitializing CanaryPhase = "Initializing"
	// PhaseInitialized: the primary serves all traffic and no rollout has run yet.
	PhaseInitialized CanaryPhase = "Initialized"
	// PhaseQueued: a new revision waits for a slot under the manager's cap on simultaneous
	// rollouts; the primary serves as it did when the last rollout ended (status.queue).
	PhaseQueued CanaryPhase = "Queued"
	// PhaseProgressing: traffic moves to the new revision step by step.
	PhaseProgressing CanaryPhase = "Progressing"
	// PhasePromoting: all traffic goes to the canary while the primary takes the new revision.
	PhasePromoting CanaryPhase = "Promoting"
	// PhaseSucceeded: the last rollout was promoted.
	PhaseSucceeded CanaryPhase = "Succeeded"
	// PhaseFailed: the last rollout was aborted; the primary serves all traffic.
	PhaseFailed CanaryPhase = "Failed"
)

// CanaryStatus is what Fledge observed and decided. It holds everything needed to resume a
// rollout exactly after a controller restart.
type CanaryStatus struct {
	// observedGeneration is the generation of the spec that this status reflects.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// phase is where the Canary stands.
	// +optional
	Phase CanaryPhase `json:"phase,omitempty"`

	// canaryWeight is the percentage of traffic currently routed to the canary.
	// +optional
	CanaryWeight int32 `json:"canaryWeight"`

	// stepIndex is the index of the current traffic step in the step plan (0 before the first).
	// +optional
	StepIndex int32 `json:"stepIndex,omitempty"`

	// failedChecks counts the failed checks of the current rollout.
	// +optional
	FailedChecks int32 `json:"failedChecks"`

	// iterations counts the analysis intervals run in an A/B or mirror phase.
	// +optional
	Iterations int32 `json:"iterations,omitempty"`

	// canaryRevision is the hash of the target's pod template (and what it mounts) under analysis.
	// +optional
	CanaryRevision string `json:"canaryRevision,omitempty"`

	// lastPromotedRevision is the hash of the revision that the primary carries.
	// +optional
	LastPromotedRevision string `json:"lastPromotedRevision,omitempty"`

	// lastTransitionTime is when the phase or the step last changed.
	// +optional
	LastTransitionTime *metav1.MicroTime `json:"lastTransitionTime,omitempty"`

	// replicas is the number of pods each version runs, taken from the target's replicas
	// (Fledge keeps the target itself at zero).
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// lastCheckTime is when the checks of the current step last ran; the next run is due one
	// interval later.
	// +optional
	LastCheckTime *metav1.MicroTime `json:"lastCheckTime,omitempty"`

	// queue says which revision waits for a rollout slot, since when, and why, while the
	// phase is Queued.
	// +optional
	Queue *QueueStatus `json:"queue,omitempty"`

	// paused is set by a Pause request and cleared by Resume: the rollout holds its step.
	// +optional
	Paused bool `json:"paused,omitempty"`

	// request is a manual command from an operator (kubectl fledge promote, abort, ...). It is
	// written through the status subresource, so that GitOps tools leave it alone and RBAC on
	// canaries/status governs who may send it.
	// +optional
	Request *ManualRequest `json:"request,omitempty"`

	// lastHandledRequest says what Fledge did with the last request.
	// +optional
	LastHandledRequest *HandledRequest `json:"lastHandledRequest,omitempty"`

	// metrics are the latest results of the checks, one per metric, so that a person can see
	// why a step was held or failed.
	// +optional
	// +listType=map
	// +listMapKey=name
	Metrics []MetricStatus `json:"metrics,omitempty"`

	// rolloutID names the current (or last) rollout: its revision and when it started.
	// +optional
	RolloutID string `json:"rolloutID,omitempty"`

	// rolloutStartTime is when the current (or last) rollout started.
	// +optional
	RolloutStartTime *metav1.Time `json:"rolloutStartTime,omitempty"`

	// history records the Canary's rollouts, oldest first, the last 20 of them: what
	// `kubectl fledge history` shows, for as long as the Canary lives.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=20
	History []RolloutRecord `json:"history,omitempty"`

	// notifications is the outbox of the Canary's alerts.
	// +optional
	Notifications *NotificationsStatus `json:"notifications,omitempty"`

	// events are the Kubernetes Events of the last decision that made any, recorded with it, so
	// that a manager that crashed before it created them creates them after its restart (each
	// Event is named after its sequence number: it is never created twice).
	// +optional
	Events *TransitionEvents `json:"events,omitempty"`

	// message says, for a person, why the Canary is where it is.
	// +optional
	Message string `json:"message,omitempty"`

	// conditions are the Canary's observed conditions (Ready, Progressing, Promoted, ...).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// QueueStatus is a rollout that waits for a slot: the manager runs at most so many at once
// (--max-concurrent-rollouts, and per namespace), and starts the oldest queued first.
type QueueStatus struct {
	// revision of the target that waits.
	Revision string `json:"revision"`
	// since is when it was queued: the queue is served oldest first.
	Since metav1.Time `json:"since"`
	// after is the phase the Canary was in when the revision was queued, which still holds for
	// the traffic and the copies (Initialized, Succeeded or Failed; Failed with the failed
	// revision itself queued is a retry).
	After CanaryPhase `json:"after"`
}

// MetricStatus is the latest result of one check.
type MetricStatus struct {
	// name of the metric.
	Name string `json:"name"`
	// verdict of the check: Pass, Fail or Wait.
	Verdict string `json:"verdict"`
	// value measured on the canary.
	// +optional
	Value *float64 `json:"value,omitempty"`
	// primaryValue measured on the primary over the same window, when compared.
	// +optional
	PrimaryValue *float64 `json:"primaryValue,omitempty"`
	// requests served by the canary in the window, when counted.
	// +optional
	Requests *int64 `json:"requests,omitempty"`
	// pValue and effectSize of a statistical comparison.
	// +optional
	PValue *float64 `json:"pValue,omitempty"`
	// +optional
	EffectSize *float64 `json:"effectSize,omitempty"`
	// message says why, with the query when it failed to run.
	// +optional
	Message string `json:"message,omitempty"`
	// measuredAt is when the check ran.
	MeasuredAt metav1.Time `json:"measuredAt"`
}

// RequestAction is a manual command.
// +kubebuilder:validation:Enum=Promote;PromoteStep;Abort;Pause;Resume;Retry
type RequestAction string

const (
	// RequestPromote promotes the canary now, skipping the remaining steps.
	RequestPromote RequestAction = "Promote"
	// RequestPromoteStep advances one step now, without waiting for the interval or the checks.
	RequestPromoteStep RequestAction = "PromoteStep"
	// RequestAbort aborts the rollout: all traffic back to the primary.
	RequestAbort RequestAction = "Abort"
	// RequestPause holds the rollout at its current step.
	RequestPause RequestAction = "Pause"
	// RequestResume lets a paused rollout go on.
	RequestResume RequestAction = "Resume"
	// RequestRetry starts the failed revision's rollout again from the first step.
	RequestRetry RequestAction = "Retry"
)

// ManualRequest is a command an operator sends to a Canary.
type ManualRequest struct {
	// id is unique to this request; Fledge acts on each id once.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	ID string `json:"id"`

	// action to take.
	// +required
	Action RequestAction `json:"action"`

	// requestedAt is when the request was sent.
	// +optional
	RequestedAt *metav1.Time `json:"requestedAt,omitempty"`

	// requestedBy is the user name of who sent it, as the API server authenticated them:
	// Fledge's status-requests admission policy refuses a request naming anyone else.
	// kubectl fledge fills it in. (A ServiceAccount's user name is up to 339 characters.)
	// +optional
	// +kubebuilder:validation:MaxLength=512
	RequestedBy string `json:"requestedBy,omitempty"`
}

// HandledRequest records what Fledge did with a request.
type HandledRequest struct {
	// id of the request.
	ID string `json:"id"`

	// action of the request.
	Action RequestAction `json:"action"`

	// accepted is true when the action was taken, false when it did not apply (for example
	// Promote when no rollout runs).
	Accepted bool `json:"accepted"`

	// message says what happened.
	// +optional
	Message string `json:"message,omitempty"`

	// handledAt is when Fledge acted.
	HandledAt metav1.Time `json:"handledAt"`
}

// Condition types of a Canary.
const (
	// ConditionReady is True while the primary serves traffic through routes in place.
	ConditionReady = "Ready"
	// ConditionProgressing is True while a rollout runs.
	ConditionProgressing = "Progressing"
	// ConditionPromoted is True when the last rollout was promoted, False when it was aborted.
	ConditionPromoted = "Promoted"
	// ConditionMetricsReady is False when a metric could not be measured at its last check
	// (a template that does not render, a query the provider rejects, a provider out of reach).
	ConditionMetricsReady = "MetricsReady"
)

// Canary turns each change of a Deployment into a progressive rollout on Istio: the new revision
// gets a growing share of traffic while its metrics pass, then it is promoted or aborted.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=fcy,categories=fledge
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Weight",type=integer,JSONPath=`.status.canaryWeight`
// +kubebuilder:printcolumn:name="Failed",type=integer,JSONPath=`.status.failedChecks`
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Canary struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is what to roll out and how.
	// +required
	Spec CanarySpec `json:"spec"`

	// status is what Fledge observed and decided.
	// +optional
	Status CanaryStatus `json:"status,omitempty"`
}

// CanaryList is a list of Canaries.
// +kubebuilder:object:root=true
type CanaryList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Canary `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Canary{}, &CanaryList{})
}
