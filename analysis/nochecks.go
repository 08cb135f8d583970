package analysis

import (
	"context"
	"fmt"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// NoProvider judges canaries without a metrics provider: a step with no metrics to check
// passes; a step whose canary lists metrics fails, saying so, because a metric that cannot be
// measured must never count as a pass.
type NoProvider struct{}

// Check implements Checker.
func (NoProvider) Check(_ context.Context, canary *fledgev1alpha1.Canary) Result {
	if n := len(canary.Spec.Analysis.Metrics); n > 0 {
		return Result{Verdict: Fail, Message: fmt.Sprintf("%d metrics to check but no metrics provider is configured", n)}
	}
	return Result{Verdict: Pass, Message: "no metrics to check"}
}
