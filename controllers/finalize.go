package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/rollout"
)

// finalize hands traffic back before the Canary goes: the user's original routes, or all
// traffic to the version last promoted, which keeps running; the canary copy is deleted.
func (r *CanaryReconciler) finalize(ctx context.Context, canary *fledgev1alpha1.Canary) error {
	if !controllerutil.ContainsFinalizer(canary, Finalizer) {
		return nil
	}
	versions := r.versionsOf(canary)
	set, err := versions.read(ctx, canary)
	if err != nil {
		return err
	}
	if err := r.Router.Finalize(ctx, canary, rollout.Settled(&canary.Spec, &canary.Status)); err != nil {
		return fmt.Errorf("hand back the routes of Canary %s/%s: %w", canary.Namespace, canary.Name, err)
	}
	if err := versions.finalize(ctx, canary, set); err != nil {
		return err
	}
	r.Events.Eventf(canary, nil, corev1.EventTypeNormal, fledgev1alpha1.ReasonFinalized, "Delete",
		"routes handed back; the version last promoted keeps serving")
	patch := client.MergeFrom(canary.DeepCopy())
	controllerutil.RemoveFinalizer(canary, Finalizer)
	return r.Client.Patch(ctx, canary, patch)
}
