package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/rollout"
)

// revertPoll is how often a deleted Canary looks at its target while it waits for it to serve.
const revertPoll = 2 * time.Second

// finalize hands traffic back before the Canary goes. By default the version last promoted
// keeps serving from the primary, behind the same Service, with all traffic; the canary copy
// is deleted. With spec.revertOnDeletion the application goes back to the target instead
// (versions.revert), unless the target holds a revision that was never promoted, or does not
// serve within the progress deadline: then the primary keeps serving, and an event says why.
func (r *CanaryReconciler) finalize(ctx context.Context, canary *fledgev1alpha1.Canary) (reconcile.Result, error) {
	if !controllerutil.ContainsFinalizer(canary, Finalizer) {
		return reconcile.Result{}, nil
	}
	versions := r.versionsOf(canary)
	set, err := versions.read(ctx, canary)
	if err != nil {
		return reconcile.Result{}, err
	}
	reverted := false
	if canary.Spec.RevertOnDeletion {
		if why := versions.revertible(canary, set); why != "" {
			r.Events.Eventf(canary, nil, corev1.EventTypeWarning, fledgev1alpha1.ReasonNotReverted, "Delete",
				"not reverted to the target: %s; the version last promoted keeps serving", why)
		} else {
			waiting, err := versions.revert(ctx, canary, set)
			switch {
			case err != nil:
				return reconcile.Result{}, err
			case waiting == "":
				reverted = true
			case r.Clock.Since(canary.DeletionTimestamp.Time) < canary.Spec.ProgressDeadline():
				// Deleting waits until the target serves; the status says so.
				return reconcile.Result{RequeueAfter: revertPoll}, r.reportState(ctx, canary, corev1.EventTypeNormal, fledgev1alpha1.ReasonReverting,
					"deleting: "+waiting+"; the primary serves until then")
			default:
				r.Events.Eventf(canary, nil, corev1.EventTypeWarning, fledgev1alpha1.ReasonNotReverted, "Delete",
					"not reverted to the target: it did not serve within the progress deadline (%s): %s; the version last promoted keeps serving",
					canary.Spec.ProgressDeadline(), waiting)
			}
		}
	}
	message := "the target serves again behind its own Service; Fledge's objects go with the Canary"
	if !reverted {
		if err := r.Router.Finalize(ctx, canary, rollout.Settled(&canary.Spec, &canary.Status)); err != nil {
			return reconcile.Result{}, fmt.Errorf("hand back the routes of Canary %s/%s: %w", canary.Namespace, canary.Name, err)
		}
		if err := versions.finalize(ctx, canary, set); err != nil {
			return reconcile.Result{}, err
		}
		message = "routes handed back; the version last promoted keeps serving"
	}
	r.Events.Eventf(canary, nil, corev1.EventTypeNormal, fledgev1alpha1.ReasonFinalized, "Delete", "%s", message)
	patch := client.MergeFrom(canary.DeepCopy())
	controllerutil.RemoveFinalizer(canary, Finalizer)
	return reconcile.Result{}, r.Client.Patch(ctx, canary, patch)
}
