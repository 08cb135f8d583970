package workload

import (
	"context"
	"fmt"
	"maps"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/ownership"
)

// Set is the target of a canary and its two copies, as read from the cache (nil: absent).
type Set struct {
	Target, Primary, Canary *appsv1.Deployment
	// TargetRevision is the revision of the target (see Revision).
	TargetRevision string
}

func (s Set) copyOf(role Role) *appsv1.Deployment {
	if role == Primary {
		return s.Primary
	}
	return s.Canary
}

// source finds a Deployment whose pod template is revision.
func (s Set) source(revision string) (Source, bool) {
	switch {
	case s.Target != nil && s.TargetRevision == revision:
		return Source{Deployment: s.Target}, true
	case s.Canary != nil && s.Canary.Annotations[AnnotationRevision] == revision:
		return Source{Deployment: s.Canary, Role: Canary}, true
	case s.Primary != nil && s.Primary.Annotations[AnnotationRevision] == revision:
		return Source{Deployment: s.Primary, Role: Primary}, true
	}
	return Source{}, false
}

// Deployments changes a canary's Deployments, and the primary's copies of the ConfigMaps and
// Secrets it references.
type Deployments struct {
	Client client.Client
	// APIReader reads ConfigMaps and Secrets, which are not in the cache, when the primary
	// takes a new revision.
	APIReader client.Reader
	Scheme    *runtime.Scheme
}

// EnsureCopy makes the copy of role carry revision with replicas; it reports whether it wrote.
// A copy that must run no pods keeps the template it has.
func (d *Deployments) EnsureCopy(ctx context.Context, canary *fledgev1alpha1.Canary, set Set, role Role, revision string, replicas int32) (bool, error) {
	existing := set.copyOf(role)
	name := CopyName(set.Target.Name, role)
	if existing != nil {
		if ownership.ManagedBy(existing) != canary.Name {
			return false, fmt.Errorf("Deployment %s/%s exists and is not managed by this Canary: rename or delete it", canary.Namespace, name)
		}
		if existing.Annotations[AnnotationRevision] == revision || replicas == 0 {
			return d.scale(ctx, canary, existing, replicas)
		}
	} else if replicas == 0 || revision == "" {
		return false, nil
	}

	source, ok := set.source(revision)
	if !ok {
		return false, fmt.Errorf("no Deployment carries revision %s for %s: the target changed before it could be copied", revision, name)
	}
	want, err := BuildCopy(canary, set.Target, source, role, revision, replicas)
	if err != nil {
		return false, err
	}
	if role == Primary {
		// The primary must not change when someone edits a ConfigMap or Secret it uses.
		if err := d.freezeConfigs(ctx, canary, ConfigRefs(&source.Deployment.Spec.Template.Spec)); err != nil {
			return false, err
		}
	}
	if existing == nil {
		if _, err := ownership.Claim(want, canary, d.Scheme); err != nil {
			return false, err
		}
		if err := d.Client.Create(ctx, want); err != nil {
			return false, fmt.Errorf("create Deployment %s: %w", name, err)
		}
		return true, nil
	}
	updated := existing.DeepCopy()
	updated.Labels = want.Labels
	updated.Annotations = mergeAnnotations(existing.Annotations, want.Annotations)
	updated.Spec = want.Spec
	if _, err := ownership.Claim(updated, canary, d.Scheme); err != nil {
		return false, err
	}
	if err := d.Client.Update(ctx, updated); err != nil {
		return false, fmt.Errorf("update Deployment %s to revision %s: %w", name, revision, err)
	}
	return true, nil
}

func (d *Deployments) scale(ctx context.Context, canary *fledgev1alpha1.Canary, dep *appsv1.Deployment, replicas int32) (bool, error) {
	owned := ownership.Controls(dep, canary)
	if ptr.Deref(dep.Spec.Replicas, 1) == replicas && owned {
		return false, nil
	}
	patch := client.MergeFrom(dep.DeepCopy())
	dep = dep.DeepCopy()
	dep.Spec.Replicas = ptr.To(replicas)
	if _, err := ownership.Claim(dep, canary, d.Scheme); err != nil {
		return false, err
	}
	if err := d.Client.Patch(ctx, dep, patch); err != nil {
		return false, fmt.Errorf("scale Deployment %s to %d: %w", dep.Name, replicas, err)
	}
	return true, nil
}

// ScaleDownTarget keeps the user's Deployment at zero replicas: its pods would get no traffic.
func (d *Deployments) ScaleDownTarget(ctx context.Context, target *appsv1.Deployment) (bool, error) {
	return d.ScaleTarget(ctx, target, 0)
}

// Finalize deletes the canary copy and leaves the primary running, no longer owned by the
// Canary, so that deleting a Canary never takes the service down.
func (d *Deployments) Finalize(ctx context.Context, canary *fledgev1alpha1.Canary, set Set) error {
	if set.Canary != nil && ownership.Controls(set.Canary, canary) {
		if err := d.Client.Delete(ctx, set.Canary); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete the canary copy %s: %w", set.Canary.Name, err)
		}
	}
	if set.Primary != nil {
		if err := d.disown(ctx, set.Primary, canary); err != nil {
			return err
		}
	}
	return d.releaseFrozenConfigs(ctx, canary)
}

// disown writes ownership.Release, so that the garbage collector keeps obj when the Canary is
// deleted. A patch, so that the write carries the owner references only and cannot undo what
// others changed in obj since it was read.
func (d *Deployments) disown(ctx context.Context, obj client.Object, canary *fledgev1alpha1.Canary) error {
	patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
	if !ownership.Release(obj, canary) {
		return nil
	}
	if err := d.Client.Patch(ctx, obj, patch); err != nil {
		return fmt.Errorf("keep %s when the Canary goes: %w", obj.GetName(), err)
	}
	return nil
}

func mergeAnnotations(have, want map[string]string) map[string]string {
	out := maps.Clone(have)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, want)
	return out
}

// ScaleTarget sizes the user's Deployment, which serves again once its Canary is deleted with
// revertOnDeletion.
func (d *Deployments) ScaleTarget(ctx context.Context, target *appsv1.Deployment, replicas int32) (bool, error) {
	if ptr.Deref(target.Spec.Replicas, 1) == replicas {
		return false, nil
	}
	patch := client.MergeFrom(target.DeepCopy())
	scaled := target.DeepCopy()
	scaled.Spec.Replicas = ptr.To(replicas)
	if err := d.Client.Patch(ctx, scaled, patch); err != nil {
		return false, fmt.Errorf("scale the target %s to %d: %w", target.Name, replicas, err)
	}
	return true, nil
}

// RemoveCanaryCopy deletes the canary copy and its pods (foreground deletion), and reports
// whether it is gone.
func (d *Deployments) RemoveCanaryCopy(ctx context.Context, canary *fledgev1alpha1.Canary, set Set) (bool, error) {
	if set.Canary == nil || !ownership.Controls(set.Canary, canary) {
		return true, nil
	}
	if !set.Canary.DeletionTimestamp.IsZero() {
		return false, nil // going
	}
	err := d.Client.Delete(ctx, set.Canary, client.PropagationPolicy(metav1.DeletePropagationForeground))
	if err != nil && !apierrors.IsNotFound(err) {
		return false, fmt.Errorf("delete the canary copy %s: %w", set.Canary.Name, err)
	}
	return false, nil
}
