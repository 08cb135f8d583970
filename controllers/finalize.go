package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/router"
)

// finalize hands traffic back before the Canary goes: the user's original routes, or all
// traffic to the primary, which keeps running; the canary copy is deleted.
func (r *CanaryReconciler) finalize(ctx context.Context, canary *fledgev1alpha1.Canary) error {
	if !controllerutil.ContainsFinalizer(canary, Finalizer) {
		return nil
	}
	set, err := r.readWorkloads(ctx, canary)
	if err != nil {
		return err
	}
	// Everything goes to the version that was last promoted: the primary, or on existing
	// subsets the candidate once it succeeded.
	settled := router.RoutesFor(canary, 100, 0)
	if canary.Spec.Subsets != nil && canary.Status.Phase == fledgev1alpha1.PhaseSucceeded {
		settled = router.RoutesFor(canary, 0, 100)
	}
	if err := r.Router.Finalize(ctx, canary, settled); err != nil {
		return fmt.Errorf("hand back the routes of Canary %s/%s: %w", canary.Namespace, canary.Name, err)
	}
	if canary.Spec.Subsets == nil {
		if err := r.Services.Finalize(ctx, canary); err != nil {
			return err
		}
		if err := r.Workloads.Finalize(ctx, canary, set); err != nil {
			return err
		}
	}
	r.Events.Eventf(canary, nil, corev1.EventTypeNormal, "Finalized", "Delete",
		"routes handed back; the primary keeps serving")
	patch := client.MergeFrom(canary.DeepCopy())
	controllerutil.RemoveFinalizer(canary, Finalizer)
	return r.Client.Patch(ctx, canary, patch)
}
