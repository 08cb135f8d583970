// Package v1alpha1 holds the Fledge API: Canary, MetricTemplate and AlertProvider.
//
// +kubebuilder:object:generate=true
// +groupName=fledge.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every Fledge kind.
	GroupVersion = schema.GroupVersion{Group: "fledge.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the Fledge kinds with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the Fledge kinds to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
