package controllers

import (
	"context"
	"fmt"

	"k8s.io/utils/ptr"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/workload"
)

func (ownCopies) revertible(canary *fledgev1alpha1.Canary, set workload.Set) string {
	switch {
	case set.Target == nil:
		return "the target Deployment is gone"
	case set.Target.Spec.Selector == nil || len(set.Target.Spec.Selector.MatchLabels) == 0:
		return "the target selects its pods by no matchLabels, so no Service selector can be given back"
	case canary.Status.LastPromotedRevision == "":
		return "no revision was ever promoted"
	case set.TargetRevision != canary.Status.LastPromotedRevision:
		return fmt.Sprintf("the target carries revision %s, not %s, the one last promoted (set the target back to it to revert)",
			set.TargetRevision, canary.Status.LastPromotedRevision)
	}
	return ""
}

// revert gives the application back to the target in the order that keeps it served: the
// canary copy is deleted with its pods; the target is scaled up to the primary's size and
// waited for; then the routes are handed back
// to the Service (which still selects the copies' pods); then the Service selects the
// target's pods again. The copies, their Services and frozen configurations stay owned by
// the Canary, so that the garbage collector deletes them with it.
func (v ownCopies) revert(ctx context.Context, canary *fledgev1alpha1.Canary, set workload.Set) (string, error) {
	replicas := max(canary.Status.Replicas, 1)
	if set.Primary != nil {
		replicas = max(ptr.Deref(set.Primary.Spec.Replicas, 1), 1)
	}
	// The canary copy goes first, with its pods: once the routes are handed back, the Service
	// would send to every pod it selects, the canary's among them.
	if gone, err := v.r.Workloads.RemoveCanaryCopy(ctx, canary, set); err != nil || !gone {
		return "waiting for the canary copy to be gone", err
	}
	if scaled, err := v.r.Workloads.ScaleTarget(ctx, set.Target, replicas); err != nil || scaled {
		return fmt.Sprintf("waiting for the target to scale up to %d replicas", replicas), err
	}
	if w := workload.Observe(set.Target, set.TargetRevision); !w.Ready {
		return "waiting for the target to serve again: " + w.Progress, nil
	}
	if err := v.r.Router.Remove(ctx, canary); err != nil {
		return "", err
	}
	if err := v.r.Services.Restore(ctx, canary, set.Target.Spec.Selector.MatchLabels); err != nil {
		return "", err
	}
	return "", nil
}
