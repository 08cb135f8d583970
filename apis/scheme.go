// Package apis gathers the API kinds Fledge reads and writes.
package apis

import (
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// NewScheme returns a scheme with the Kubernetes, Fledge and Istio networking kinds.
func NewScheme() *runtime.Scheme {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme,
		fledgev1alpha1.AddToScheme,
		istionetworkingv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			panic(err) // only on conflicting registrations, a programming error
		}
	}
	return scheme
}
