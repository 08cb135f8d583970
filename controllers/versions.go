package controllers

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"fledge.dev/fledge/analysis"
	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/rollout"
	"fledge.dev/fledge/controllers/workload"
)

// versions runs a Canary's two versions: as Fledge's own copies of the target, or as the
// user's existing subsets. versionsOf chooses once per reconcile; nothing else in the
// reconciler asks which it is.
type versions interface {
	// read reads the target, and the copies if any, from the cache.
	read(ctx context.Context, canary *fledgev1alpha1.Canary) (workload.Set, error)
	// observe is what the decision sees of them: the target, the primary and the canary.
	observe(set workload.Set) (target, primary, candidate rollout.Workload)
	// serve makes the Services the routes send to, before any route names them.
	serve(ctx context.Context, canary *fledgev1alpha1.Canary) error
	// apply brings the Deployments in line with want, once traffic has moved.
	apply(ctx context.Context, canary *fledgev1alpha1.Canary, set workload.Set, want rollout.Desired) error
	// finalize hands them back when the Canary goes: the service keeps running.
	finalize(ctx context.Context, canary *fledgev1alpha1.Canary, set workload.Set) error
	// revertible says why the Canary cannot be reverted to its target on deletion ("" if it can).
	revertible(canary *fledgev1alpha1.Canary, set workload.Set) string
	// revert gives the application back to the target, a step at a time; it returns what it
	// waits for, "" once done.
	revert(ctx context.Context, canary *fledgev1alpha1.Canary, set workload.Set) (string, error)
	// measured names the workloads the checks measure.
	measured(canary *fledgev1alpha1.Canary) analysis.Workloads
}

func (r *CanaryReconciler) versionsOf(canary *fledgev1alpha1.Canary) versions {
	if canary.Spec.Subsets != nil {
		return userSubsets{r: r, subsets: canary.Spec.Subsets}
	}
	return ownCopies{r: r}
}

// ownCopies: the primary and canary Deployments are Fledge's copies of the target, behind
// Services of Fledge's.
type ownCopies struct{ r *CanaryReconciler }

func (v ownCopies) read(ctx context.Context, canary *fledgev1alpha1.Canary) (workload.Set, error) {
	set, err := v.r.readTarget(ctx, canary)
	if err != nil {
		return set, err
	}
	// The copies are read even without a target: deleting the Canary hands them back.
	target := canary.Spec.TargetRef.Name
	if set.Primary, err = v.r.getDeployment(ctx, canary.Namespace, workload.CopyName(target, workload.Primary)); err != nil {
		return set, err
	}
	set.Canary, err = v.r.getDeployment(ctx, canary.Namespace, workload.CopyName(target, workload.Canary))
	return set, err
}

func (ownCopies) observe(set workload.Set) (target, primary, candidate rollout.Workload) {
	return workload.Observe(set.Target, set.TargetRevision), workload.Observe(set.Primary, ""), workload.Observe(set.Canary, "")
}

func (v ownCopies) serve(ctx context.Context, canary *fledgev1alpha1.Canary) error {
	_, err := v.r.Services.Reconcile(ctx, canary)
	return err
}

func (v ownCopies) apply(ctx context.Context, canary *fledgev1alpha1.Canary, set workload.Set, want rollout.Desired) error {
	if set.Target == nil {
		// The copies are built on the target's spec and sized from it: without the target they
		// stay as they are until it is back (a Canary created before its target must not scale
		// down a primary left by an earlier Canary of the same name).
		return nil
	}
	w := v.r.Workloads
	if _, err := w.EnsureCopy(ctx, canary, set, workload.Primary, want.PrimaryRevision, want.PrimaryReplicas); err != nil {
		return err
	}
	if _, err := w.EnsureCopy(ctx, canary, set, workload.Canary, want.CanaryRevision, want.CanaryReplicas); err != nil {
		return err
	}
	if want.ScaleDownTarget {
		if _, err := w.ScaleDownTarget(ctx, set.Target); err != nil {
			return err
		}
	}
	return nil
}

func (ownCopies) measured(canary *fledgev1alpha1.Canary) analysis.Workloads {
	target := canary.Spec.TargetRef.Name
	return analysis.Workloads{Canary: workload.CopyName(target, workload.Canary), Primary: workload.CopyName(target, workload.Primary)}
}

func (v ownCopies) finalize(ctx context.Context, canary *fledgev1alpha1.Canary, set workload.Set) error {
	if err := v.r.Services.Finalize(ctx, canary); err != nil {
		return err
	}
	// The primary keeps serving: a target a revert scaled up before it gave up goes back to zero.
	if set.Target != nil && set.Primary != nil {
		if _, err := v.r.Workloads.ScaleDownTarget(ctx, set.Target); err != nil {
			return err
		}
	}
	return v.r.Workloads.Finalize(ctx, canary, set)
}

// userSubsets: the user's own Deployments run two subsets of the user's DestinationRule;
// Fledge only moves the weights between them and changes none of their objects.
type userSubsets struct {
	r       *CanaryReconciler
	subsets *fledgev1alpha1.ExistingSubsets
}

func (v userSubsets) read(ctx context.Context, canary *fledgev1alpha1.Canary) (workload.Set, error) {
	return v.r.readTarget(ctx, canary)
}

// observe sees the target as the candidate subset's Deployment: the source and the canary at
// once. Its revision names the subset too, so that naming a new candidate starts a rollout.
func (v userSubsets) observe(set workload.Set) (target, primary, candidate rollout.Workload) {
	candidate = workload.Observe(set.Target, set.TargetRevision)
	candidate.Revision = v.subsets.Candidate + "-" + candidate.Revision
	return candidate, rollout.Workload{}, candidate
}

func (userSubsets) serve(context.Context, *fledgev1alpha1.Canary) error { return nil }

func (userSubsets) apply(context.Context, *fledgev1alpha1.Canary, workload.Set, rollout.Desired) error {
	return nil
}

// measured is the candidate's Deployment; there is no primary workload to compare with.
func (userSubsets) measured(canary *fledgev1alpha1.Canary) analysis.Workloads {
	return analysis.Workloads{Canary: canary.Spec.TargetRef.Name}
}

func (userSubsets) finalize(context.Context, *fledgev1alpha1.Canary, workload.Set) error { return nil }

// On the user's subsets Fledge changed nothing but the routes, which finalize hands back:
// there is nothing more to revert, and the event says so.
func (userSubsets) revertible(*fledgev1alpha1.Canary, workload.Set) string {
	return "the Canary routes between the user's own subsets, whose Deployments Fledge never changed"
}

func (userSubsets) revert(context.Context, *fledgev1alpha1.Canary, workload.Set) (string, error) {
	return "", nil
}

// readTarget reads the target and the revision of its pod template (and what it mounts).
func (r *CanaryReconciler) readTarget(ctx context.Context, canary *fledgev1alpha1.Canary) (workload.Set, error) {
	var set workload.Set
	var err error
	if set.Target, err = r.getDeployment(ctx, canary.Namespace, canary.Spec.TargetRef.Name); err != nil || set.Target == nil {
		return set, err
	}
	refs := workload.ConfigRefs(&set.Target.Spec.Template.Spec)
	hashes, err := r.Configs.Of(ctx, canary.Namespace, refs)
	if err != nil {
		return set, err
	}
	set.TargetRevision = workload.Revision(&set.Target.Spec.Template, hashes)
	return set, nil
}

func (r *CanaryReconciler) getDeployment(ctx context.Context, namespace, name string) (*appsv1.Deployment, error) {
	d := &appsv1.Deployment{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, d)
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read Deployment %s/%s: %w", namespace, name, err)
	}
	return d, nil
}
