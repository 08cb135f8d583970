package workload

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/rollout"
)

// Source is a Deployment whose pod template can seed a copy: the target itself, or one of the
// copies (during a promotion the primary takes the canary's template).
type Source struct {
	Deployment *appsv1.Deployment
	// Role is "" for the target, else the copy's role.
	Role Role
}

// BuildCopy returns the Deployment that the copy of role must be: source's pod template with
// the copy's labels, replicas, and the revision it carries.
func BuildCopy(canary *fledgev1alpha1.Canary, target *appsv1.Deployment, source Source, role Role, revision string, replicas int32) (*appsv1.Deployment, error) {
	template, selector, err := copyTemplate(&source.Deployment.Spec.Template, source.Role, target.Spec.Selector, canary.Name, role)
	if err != nil {
		return nil, err
	}
	if role == Primary {
		RenameConfigRefs(&template.Spec, func(_ ConfigKind, name string) string { return PrimaryConfigName(name) })
	}
	spec := target.Spec.DeepCopy()
	spec.Replicas = ptr.To(replicas)
	spec.Selector = selector
	spec.Template = template
	spec.Paused = false
	spec.ProgressDeadlineSeconds = canary.Spec.ProgressDeadlineSeconds

	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   canary.Namespace,
			Name:        CopyName(target.Name, role),
			Labels:      ManagedLabels(canary.Name, role),
			Annotations: map[string]string{AnnotationRevision: revision},
		},
		Spec: *spec,
	}, nil
}

// ManagedLabels are the labels of an object Fledge manages for a canary.
func ManagedLabels(canaryName string, role Role) map[string]string {
	l := map[string]string{LabelManagedBy: ManagedByFledge, LabelCanary: canaryName}
	if role != "" {
		l[LabelRole] = string(role)
	}
	return l
}

// Observe summarises a Deployment for the rollout decision. The target's revision is given
// (see Revision); a copy's is the one recorded when it was built.
func Observe(d *appsv1.Deployment, targetRevision string) rollout.Workload {
	if d == nil {
		return rollout.Workload{}
	}
	w := rollout.Workload{Exists: true, Replicas: ptr.Deref(d.Spec.Replicas, 1), Revision: targetRevision}
	if targetRevision == "" {
		w.Revision = d.Annotations[AnnotationRevision]
	}
	w.Ready, w.Progress = rolledOut(d)
	return w
}

// RolledOut reports whether a Deployment is fully rolled out (see Observe).
func RolledOut(d *appsv1.Deployment) bool {
	ready, _ := rolledOut(d)
	return ready
}

// rolledOut is what `kubectl rollout status` waits for: the controller saw the latest spec,
// every replica is updated and available, and no old replica is left.
func rolledOut(d *appsv1.Deployment) (bool, string) {
	want := ptr.Deref(d.Spec.Replicas, 1)
	st := d.Status
	switch {
	case st.ObservedGeneration < d.Generation:
		return false, "waiting for the Deployment controller to see the latest spec"
	case st.UpdatedReplicas < want:
		return false, fmt.Sprintf("%d of %d replicas updated", st.UpdatedReplicas, want)
	case st.Replicas > st.UpdatedReplicas:
		return false, fmt.Sprintf("%d old replicas pending termination", st.Replicas-st.UpdatedReplicas)
	case st.AvailableReplicas < want:
		return false, fmt.Sprintf("%d of %d updated replicas available", st.AvailableReplicas, want)
	}
	return true, fmt.Sprintf("%d of %d replicas ready", st.AvailableReplicas, want)
}
