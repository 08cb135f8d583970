package controllers

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/rollout"
	"fledge.dev/fledge/controllers/workload"
)

// readWorkloads reads the target and its copies from the cache.
func (r *CanaryReconciler) readWorkloads(ctx context.Context, canary *fledgev1alpha1.Canary) (workload.Set, error) {
	var set workload.Set
	var err error
	target := canary.Spec.TargetRef.Name
	if set.Target, err = r.getDeployment(ctx, canary.Namespace, target); err != nil {
		return set, err
	}
	if set.Target != nil {
		refs := workload.ConfigRefs(&set.Target.Spec.Template.Spec)
		hashes, err := r.Configs.Of(ctx, canary.Namespace, refs)
		if err != nil {
			return set, err
		}
		set.TargetRevision = workload.Revision(&set.Target.Spec.Template, hashes)
	}
	if canary.Spec.Subsets != nil {
		return set, nil // no copies on existing subsets
	}
	if set.Primary, err = r.getDeployment(ctx, canary.Namespace, workload.CopyName(target, workload.Primary)); err != nil {
		return set, err
	}
	set.Canary, err = r.getDeployment(ctx, canary.Namespace, workload.CopyName(target, workload.Canary))
	return set, err
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

// observe gathers what the rollout decision looks at.
func (r *CanaryReconciler) observe(canary *fledgev1alpha1.Canary, set workload.Set) rollout.Observation {
	if subsets := canary.Spec.Subsets; subsets != nil {
		// The target is the candidate subset's Deployment: the source and the canary at once.
		// Its revision names the subset too, so that naming a new candidate starts a rollout.
		candidate := workload.Observe(set.Target, set.TargetRevision)
		candidate.Revision = subsets.Candidate + "-" + candidate.Revision
		return rollout.Observation{
			Now: r.Clock.Now(), Generation: canary.Generation, Spec: canary.Spec, Status: canary.Status,
			Target: candidate, Canary: candidate,
		}
	}
	return rollout.Observation{
		Now:        r.Clock.Now(),
		Generation: canary.Generation,
		Spec:       canary.Spec,
		Status:     canary.Status,
		Target:     workload.Observe(set.Target, set.TargetRevision),
		Primary:    workload.Observe(set.Primary, ""),
		Canary:     workload.Observe(set.Canary, ""),
	}
}
