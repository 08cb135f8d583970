package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// RolloutResult is how a rollout ended, or Running while it runs.
// +kubebuilder:validation:Enum=Running;Succeeded;Failed;Cancelled;Superseded
type RolloutResult string

// Results of a rollout.
const (
	ResultRunning RolloutResult = "Running"
	// ResultSucceeded: the revision was promoted.
	ResultSucceeded RolloutResult = "Succeeded"
	// ResultFailed: the rollout was aborted (by its checks, its deadline or a request).
	ResultFailed RolloutResult = "Failed"
	// ResultCancelled: the target went back to the promoted revision.
	ResultCancelled RolloutResult = "Cancelled"
	// ResultSuperseded: a newer revision of the target replaced it mid-way.
	ResultSuperseded RolloutResult = "Superseded"
)

// MaxHistoryMessage bounds the message of a history record.
const MaxHistoryMessage = 1024

// RolloutRecord is one rollout of a Canary, as status.history keeps it.
type RolloutRecord struct {
	// id of the rollout (status.rolloutID while it ran).
	// +kubebuilder:validation:MaxLength=256
	ID string `json:"id"`

	// revision rolled out.
	// +kubebuilder:validation:MaxLength=256
	Revision string `json:"revision"`

	// result of the rollout: Running, Succeeded, Failed, Cancelled or Superseded.
	Result RolloutResult `json:"result"`

	// startTime is when it started.
	StartTime metav1.Time `json:"startTime"`

	// endTime is when it ended; unset while it runs.
	// +optional
	EndTime *metav1.Time `json:"endTime,omitempty"`

	// stepsReached is the last step of the plan it reached, of stepsTotal.
	// +optional
	StepsReached int32 `json:"stepsReached,omitempty"`
	// +optional
	StepsTotal int32 `json:"stepsTotal,omitempty"`

	// failedChecks counts the checks that failed during it.
	// +optional
	FailedChecks int32 `json:"failedChecks,omitempty"`

	// endedBy names who ended it with a manual request (promote, abort), when someone did.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	EndedBy string `json:"endedBy,omitempty"`

	// message says why it ended.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`
}
