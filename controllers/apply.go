package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/rollout"
	"fledge.dev/fledge/controllers/workload"
)

// act brings the cluster in line with the decision. Traffic moves before the Deployments: a
// version is scaled down or replaced only once no route sends to it.
func (r *CanaryReconciler) act(ctx context.Context, canary *fledgev1alpha1.Canary, v versions, set workload.Set, decision rollout.Decision) error {
	want := decision.Want
	if want.RoutesEnabled {
		if err := v.serve(ctx, canary); err != nil {
			return err
		}
		result, err := r.Router.Reconcile(ctx, canary, want.Routes)
		if err != nil {
			return err
		}
		if result.Repaired {
			r.Events.Eventf(canary, nil, corev1.EventTypeWarning, fledgev1alpha1.ReasonRoutesRepaired, "Rollout",
				"the routes had been edited outside Fledge; they were put back to %d%% primary, %d%% canary", want.Routes.PrimaryWeight, want.Routes.CanaryWeight)
		}
	}
	return v.apply(ctx, canary, set, want)
}
