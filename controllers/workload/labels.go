// Package workload manages the Deployments of a canary: the user's target (the source of new
// revisions, kept at zero replicas) and Fledge's two copies of it, the primary (the last
// promoted revision) and the canary (the revision under analysis).
package workload

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"fledge.dev/fledge/controllers/ownership"
)

// Labels and annotations Fledge puts on what it manages.
const (
	// LabelCanary names the Canary on the copies' pods and on every object Fledge manages
	// (defined in package ownership, which reads it and which this package uses).
	LabelCanary = ownership.LabelCanary
	// LabelRole says which copy a pod belongs to; the DestinationRule subsets select on it.
	LabelRole = "fledge.dev/role"
	// LabelManagedBy marks the objects Fledge manages, so its caches watch only those.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByFledge is the value of LabelManagedBy.
	ManagedByFledge = "fledge"
	// AnnotationRevision records on a copy the revision its pod template was built from.
	AnnotationRevision = "fledge.dev/revision"
)

// Role is one of the two copies.
type Role string

const (
	Primary Role = "primary"
	Canary  Role = "canary"
)

// CopyName is the name of a copy of the target Deployment.
func CopyName(target string, role Role) string { return target + "-" + string(role) }

// PodLabels returns the labels of a copy's pods and the copy's selector. The values of the
// target selector's matchLabels get the role as a suffix (app: web becomes app: web-primary),
// so that the target's selector matches neither copy and the two copies never claim each
// other's pods.
func PodLabels(templateLabels map[string]string, targetSelector *metav1.LabelSelector, canaryName string, role Role) (map[string]string, *metav1.LabelSelector, error) {
	out := make(map[string]string, len(templateLabels)+2)
	for k, v := range templateLabels {
		out[k] = v
	}
	if targetSelector != nil {
		for k, v := range targetSelector.MatchLabels {
			out[k] = v + "-" + string(role)
		}
	}
	out[LabelCanary] = canaryName
	out[LabelRole] = string(role)

	selector := &metav1.LabelSelector{MatchLabels: map[string]string{LabelCanary: canaryName, LabelRole: string(role)}}
	if targetSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(targetSelector)
		if err != nil {
			return nil, nil, fmt.Errorf("read the target's selector: %w", err)
		}
		if sel.Matches(labels.Set(out)) {
			return nil, nil, fmt.Errorf("the target's selector %q would also select the pods of its %s copy; "+
				"give the target a selector with matchLabels (Fledge rewrites their values for its copies)", sel.String(), role)
		}
	}
	return out, selector, nil
}

// originalLabels undoes PodLabels on a copy's pod labels, giving the target's labels back.
func originalLabels(copyLabels map[string]string, targetSelector *metav1.LabelSelector, role Role) map[string]string {
	out := make(map[string]string, len(copyLabels))
	for k, v := range copyLabels {
		if k == LabelCanary || k == LabelRole {
			continue
		}
		out[k] = v
	}
	if targetSelector != nil {
		for k := range targetSelector.MatchLabels {
			out[k] = strings.TrimSuffix(out[k], "-"+string(role))
		}
	}
	return out
}

// copyTemplate returns a copy's pod template: the source template with the copy's labels.
func copyTemplate(source *corev1.PodTemplateSpec, sourceRole Role, targetSelector *metav1.LabelSelector, canaryName string, role Role) (corev1.PodTemplateSpec, *metav1.LabelSelector, error) {
	template := *source.DeepCopy()
	original := template.Labels
	if sourceRole != "" {
		original = originalLabels(template.Labels, targetSelector, sourceRole)
	}
	podLabels, selector, err := PodLabels(original, targetSelector, canaryName, role)
	if err != nil {
		return corev1.PodTemplateSpec{}, nil, err
	}
	template.Labels = podLabels
	return template, selector, nil
}
