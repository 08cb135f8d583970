package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NotificationsStatus is the outbox of a Canary's alerts. A transition's notification is
// written here in the same status write as the transition itself, so it is never lost; each
// alert provider's progress through the outbox is recorded after each delivery, so nothing is
// sent twice across controller restarts or leader changes.
type NotificationsStatus struct {
	// outbox holds the notifications not yet delivered to every provider, oldest first.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=100
	Outbox []OutboxEntry `json:"outbox,omitempty"`

	// nextSeq is the sequence number of the next notification.
	// +optional
	NextSeq int64 `json:"nextSeq,omitempty"`

	// dropped counts the notifications let go before every provider had them, because the
	// outbox was full: a provider out of reach (or far behind) for long misses the oldest ones,
	// never the newest.
	// +optional
	Dropped int64 `json:"dropped,omitempty"`

	// providers records, per alert provider, how far it got and where the rollout's message lives.
	// +optional
	// +listType=map
	// +listMapKey=provider
	Providers []ProviderDelivery `json:"providers,omitempty"`
}

// OutboxEntry is a notification waiting for delivery: a snapshot of the rollout at the
// transition, enough to render the message later.
type OutboxEntry struct {
	// seq orders the notifications of a Canary.
	Seq int64 `json:"seq"`
	// rolloutID names the rollout (one message, and one thread, per rollout and provider).
	// +optional
	RolloutID string `json:"rolloutID,omitempty"`
	// kind of transition (the reason of its event, such as Advanced or Aborted).
	Kind string `json:"kind"`
	// message says what happened.
	Message string `json:"message"`
	// time of the transition.
	Time metav1.Time `json:"time"`
	// phase, weight, step, steps, failedChecks, threshold and revision after the transition.
	// +optional
	Phase CanaryPhase `json:"phase,omitempty"`
	// +optional
	Weight int32 `json:"weight,omitempty"`
	// +optional
	Step int32 `json:"step,omitempty"`
	// +optional
	Steps int32 `json:"steps,omitempty"`
	// +optional
	FailedChecks int32 `json:"failedChecks,omitempty"`
	// +optional
	Threshold int32 `json:"threshold,omitempty"`
	// +optional
	Revision string `json:"revision,omitempty"`
}

// ProviderDelivery is how far one alert provider got through the outbox.
type ProviderDelivery struct {
	// provider is the AlertProvider, as namespace/name.
	Provider string `json:"provider"`
	// seq is the last notification delivered (or given up on).
	Seq int64 `json:"seq"`
	// rolloutID, channel and ts locate the Slack message of the current rollout.
	// +optional
	RolloutID string `json:"rolloutID,omitempty"`
	// +optional
	Channel string `json:"channel,omitempty"`
	// +optional
	TS string `json:"ts,omitempty"`
	// failures counts the notifications given up on.
	// +optional
	Failures int32 `json:"failures,omitempty"`
	// lastError says why the last one failed.
	// +optional
	LastError string `json:"lastError,omitempty"`
	// attempts counts the tries at the notification after seq once it is being retried, the
	// try under way included; it is zero when the first try went through, and goes back to
	// zero once the notification is delivered or given up on.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Attempts int32 `json:"attempts,omitempty"`
}
