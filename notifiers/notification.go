package notifiers

import (
	"context"
	"time"
)

// Notification is one message about a rollout transition.
type Notification struct {
	// ID is unique and stable: the idempotency key of this message.
	ID string
	// RolloutID identifies one rollout of one canary: one Slack message (and thread) per rollout.
	RolloutID string
	Kind      Kind

	Cluster, Namespace, Canary, Revision string

	// Phase is the canary's phase after the transition (Progressing, Promoting, Succeeded, Failed...).
	Phase string
	// Message is a sentence for people, such as "check failed (2 of 5) at canary weight 40%: ...".
	Message string

	// Weight is the share of traffic on the canary, 0..100.
	Weight int32
	// Step of Steps: the traffic step the rollout stands at.
	Step, Steps int32
	// FailedChecks of Threshold: the rollout aborts when they meet.
	FailedChecks, Threshold int32

	// Metrics are the last results of the checks.
	Metrics []Metric
	Time    time.Time
	// Started is when the rollout started (from the Canary's history), zero when unknown.
	Started time.Time
}

// Metric is the last result of one check.
type Metric struct {
	Name string
	// Value is the canary's value; nil when it could not be measured.
	Value *float64
	// Primary is the primary's value over the same window, when compared.
	Primary *float64
	// Min and Max bound the accepted values; nil when unbounded.
	Min, Max *float64
	// Verdict is Pass, Fail or Wait.
	Verdict string
}

// Thread records where a rollout's message lives in Slack.
type Thread struct {
	Channel string
	TS      string
}

// Sender delivers one notification.
//
// thread is where the rollout's message lives (nil before the first send of a rollout). The
// returned Thread is where it lives now: record it, even when an error is returned too, since
// a send may have posted the message before failing later on.
type Sender interface {
	Send(ctx context.Context, n Notification, thread *Thread) (*Thread, error)
}

// Verdicts of a Metric, as the analysis reports them.
const (
	VerdictPass = "Pass"
	VerdictFail = "Fail"
	VerdictWait = "Wait"
)

// Phases of a canary that the messages distinguish.
const (
	PhaseProgressing = "Progressing"
	PhasePromoting   = "Promoting"
	PhaseSucceeded   = "Succeeded"
	PhaseFailed      = "Failed"
)
