package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// MaxRecordedEvents bounds TransitionEvents.Last.
const MaxRecordedEvents = 8

// TransitionEvents numbers the Events of a Canary's transitions and keeps those of the last
// decision that made any.
type TransitionEvents struct {
	// seq is the sequence number of the last Event recorded.
	// +kubebuilder:validation:Minimum=0
	Seq int64 `json:"seq"`

	// time is when the last ones were recorded.
	Time metav1.Time `json:"time"`

	// last are the Events of the last decision that made any, oldest first.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=8
	Last []RecordedEvent `json:"last,omitempty"`
}

// RecordedEvent is one Event of a transition.
type RecordedEvent struct {
	// seq numbers the Event among the Canary's.
	// +kubebuilder:validation:Minimum=1
	Seq int64 `json:"seq"`

	// type is Normal or Warning.
	// +kubebuilder:validation:Enum=Normal;Warning
	Type string `json:"type"`

	// reason is the Event's reason, such as Advanced or Aborted.
	// +kubebuilder:validation:MaxLength=128
	Reason string `json:"reason"`

	// message is the Event's note.
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message"`
}
