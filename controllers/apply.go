package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/rollout"
	"fledge.dev/fledge/controllers/router"
	"fledge.dev/fledge/controllers/workload"
)

// apply brings the cluster in line with what the status asks for. Traffic moves before the
// Deployments: a version is scaled down or replaced only once no route sends to it.
// routesBefore is what the previous status asked of the routes, to tell a repair of someone
// else's edit from a step of our own.
func (r *CanaryReconciler) apply(ctx context.Context, canary *fledgev1alpha1.Canary, set workload.Set, want rollout.Desired, routesBefore router.Routes, specChanged bool) error {
	byo := canary.Spec.Subsets != nil
	if want.RoutesEnabled {
		if !byo {
			if _, err := r.Services.Reconcile(ctx, canary); err != nil {
				return err
			}
		}
		routes := routesOf(canary, want)
		result, err := r.Router.Reconcile(ctx, canary, routes)
		if err != nil {
			return err
		}
		if result.Updated && routes.Same(routesBefore) && !specChanged {
			r.Events.Eventf(canary, nil, corev1.EventTypeWarning, "RoutesRepaired", "Rollout",
				"the routes had been edited outside Fledge; they were put back to %d%% primary, %d%% canary", routes.PrimaryWeight, routes.CanaryWeight)
		}
	}
	if byo {
		return nil // the user's Deployments are the user's
	}
	if _, err := r.Workloads.EnsureCopy(ctx, canary, set, workload.Primary, want.PrimaryRevision, want.PrimaryReplicas); err != nil {
		return err
	}
	if _, err := r.Workloads.EnsureCopy(ctx, canary, set, workload.Canary, want.CanaryRevision, want.CanaryReplicas); err != nil {
		return err
	}
	if want.ScaleDownTarget {
		if _, err := r.Workloads.ScaleDownTarget(ctx, set.Target); err != nil {
			return err
		}
	}
	return nil
}
