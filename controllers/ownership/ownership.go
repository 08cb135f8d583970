// Package ownership says whether an object belongs to a Canary. Fledge records that twice, for
// two different readers: the controller owner reference is for the garbage collector (deleting
// the Canary deletes what it controls), and the LabelCanary label is for Fledge and its caches.
// The label outlives the reference: when a Canary goes, Fledge drops the reference from what
// must keep running (the primary, the Services, the routes) and leaves the label, so that a
// Canary of the same name created later takes the objects back instead of refusing them.
package ownership

import (
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// LabelCanary names the Canary on the copies' pods and on every object Fledge manages. It is
// defined here rather than in package workload because workload needs this package.
const LabelCanary = "fledge.dev/canary"

// Controls reports whether canary is obj's controller. It compares UIDs, not names: a Canary
// deleted and created again under the same name is another owner to the garbage collector.
func Controls(obj metav1.Object, canary *fledgev1alpha1.Canary) bool {
	return metav1.IsControlledBy(obj, canary)
}

// Claim makes canary the controller of obj. It reports whether obj changed, so that callers
// write only when something did. A reference left by an earlier Canary of the same name is
// replaced; a controller of another name is an error (Fledge never takes an object from it).
func Claim(obj client.Object, canary *fledgev1alpha1.Canary, scheme *runtime.Scheme) (bool, error) {
	if Controls(obj, canary) {
		return false, nil
	}
	if err := controllerutil.SetControllerReference(canary, obj, scheme); err != nil {
		return false, fmt.Errorf("make Canary %s the controller of %s: %w", canary.Name, obj.GetName(), err)
	}
	return true, nil
}

// Release drops canary's owner references from obj, so that deleting the Canary keeps obj; it
// leaves every other owner's, and the label. It reports whether obj changed.
func Release(obj metav1.Object, canary *fledgev1alpha1.Canary) bool {
	refs := obj.GetOwnerReferences()
	// A copy: filtering in place would change the slice a caller's "before" copy may share.
	kept := slices.DeleteFunc(slices.Clone(refs), func(ref metav1.OwnerReference) bool { return ref.UID == canary.UID })
	if len(kept) == len(refs) {
		return false
	}
	obj.SetOwnerReferences(kept)
	return true
}

// ManagedBy names the Canary that manages obj, by its label; "" when no Canary does.
func ManagedBy(obj metav1.Object) string {
	return obj.GetLabels()[LabelCanary]
}

// CheckManager returns an error for the user when another Canary manages obj (kind is obj's
// kind, for the message; fix says what the user can do). An object of no Canary's passes:
// whether to take it over or refuse it is the caller's choice.
func CheckManager(kind string, obj metav1.Object, canary *fledgev1alpha1.Canary, fix string) error {
	if owner := ManagedBy(obj); owner != "" && owner != canary.Name {
		return fmt.Errorf("%s %s/%s is managed by Canary %s: %s", kind, obj.GetNamespace(), obj.GetName(), owner, fix)
	}
	return nil
}
