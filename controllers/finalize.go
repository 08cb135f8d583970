package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/rollout"
	"fledge.dev/fledge/controllers/workload"
)

// revertPoll is how often a deleted Canary looks at its target while it waits for it to serve.
const revertPoll = 2 * time.Second

// canaryRunning reports whether Fledge's canary copy has pods the routes may still send to.
func canaryRunning(set workload.Set) bool {
	return set.Canary != nil && ptr.Deref(set.Canary.Spec.Replicas, 0) > 0
}

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
	// The traffic leaves the canary first, and the canary keeps running (its subset too) until
	// every sidecar has the routes without it: a Canary deleted mid-rollout must not fail the
	// requests the proxies still send to its canary.
	if until := canary.DeletionTimestamp.Add(canary.Spec.ScaleDownDelay()); canaryRunning(set) && r.Clock.Now().Before(until) {
		settled := rollout.Settled(&canary.Spec, &canary.Status)
		settled.KeepCanarySubset = true
		if _, err := r.Router.Reconcile(ctx, canary, settled); err != nil {
			return reconcile.Result{}, fmt.Errorf("route the traffic of Canary %s/%s back to the primary: %w", canary.Namespace, canary.Name, err)
		}
		return reconcile.Result{RequeueAfter: until.Sub(r.Clock.Now())}, r.reportState(ctx, canary, corev1.EventTypeNormal, fledgev1alpha1.ReasonDraining,
			fmt.Sprintf("deleting: all traffic is back on the primary; the canary keeps running until %s (scaleDownDelaySeconds) for the sidecars that still send to it",
				until.UTC().Format(time.RFC3339)))
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
