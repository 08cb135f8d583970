// Package analysis judges a canary step: it runs the canary's checks (metric queries) and
// returns one verdict for the step.
package analysis

import (
	"context"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// Verdict is the outcome of a step's checks.
type Verdict string

const (
	// Pass lets the rollout take its next step.
	Pass Verdict = "Pass"
	// Fail counts one failed check; enough of them abort the rollout.
	Fail Verdict = "Fail"
	// Wait neither passes nor fails (for example too little traffic to judge); the step is
	// judged again at the next interval, and fails once the progress deadline has passed.
	Wait Verdict = "Wait"
)

// Result is the verdict of one run of a canary's checks.
type Result struct {
	Verdict Verdict
	// Message says why, for a person (which metric failed and its value).
	Message string
	// Metrics are the results of each metric (MeasuredAt is left for the caller to stamp).
	Metrics []fledgev1alpha1.MetricStatus
	// Problem, when set, is why some metric could not be measured at all: a template that
	// does not render, a query the provider rejects, a provider out of reach.
	Problem *Problem
}

// Problem is a reason and a message for a person, for the MetricsReady condition.
type Problem struct {
	Reason  string
	Message string
}

// Workloads names the workloads a check measures: the canary's, and the primary's to compare
// with ("" when there is none, as on the user's own subsets). The controller names them: which
// Deployments run the versions is its choice, made once.
type Workloads struct {
	Canary, Primary string
}

// Checker runs the checks of a canary's current step.
type Checker interface {
	// Check runs the canary's metrics over their windows and judges them.
	Check(ctx context.Context, canary *fledgev1alpha1.Canary, w Workloads) Result
	// Preflight checks that the providers the canary's metrics need answer; it runs when a
	// rollout starts, so that a provider out of reach shows before the first step.
	Preflight(ctx context.Context, canary *fledgev1alpha1.Canary) error
}
