package v1alpha1

import "slices"

// SharedWithAll in a sharedWith list shares the object with every namespace.
const SharedWithAll = "*"

// MaySee says whether a Canary in namespace may use an object of owner's namespace whose
// sharedWith list is shared: always in its own namespace, elsewhere only when the owner listed
// that namespace (or "*"). The owner opts in, never the borrower: a template or a provider
// carries its owner's credentials.
func MaySee(owner string, shared []string, namespace string) bool {
	return owner == namespace || slices.Contains(shared, namespace) || slices.Contains(shared, SharedWithAll)
}
