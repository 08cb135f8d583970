package controllers

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"fledge.dev/fledge/controllers/workload"
)

// trimForCache is the cache's transform: it drops what Fledge never reads before an object is
// stored, so that a large fleet costs memory for what the decision uses only.
//   - managed fields, everywhere;
//   - the metadata of ConfigMaps and Secrets keeps no annotations: they are watched for their
//     names and versions (their data is read from the API when it changed), and kubectl's
//     last-applied-configuration of a Secret holds the Secret's data;
//   - a Deployment not Fledge's (a target, or any other) loses kubectl's
//     last-applied-configuration, a second copy of its spec. Fledge writes such Deployments
//     by merge patches of the fields it changes only, never by an update of the cached
//     object, so the annotation stays on the server.
//
// Services, VirtualServices and DestinationRules keep theirs: Fledge updates adopted ones
// whole, and an update from a trimmed copy would drop the user's annotation.
func trimForCache(obj any) (any, error) {
	obj, err := cache.TransformStripManagedFields()(obj)
	if err != nil {
		return obj, err
	}
	switch o := obj.(type) {
	case *metav1.PartialObjectMetadata:
		o.Annotations = nil
	case *appsv1.Deployment:
		if o.Labels[workload.LabelManagedBy] != workload.ManagedByFledge {
			delete(o.Annotations, corev1.LastAppliedConfigAnnotation)
		}
	}
	return obj, nil
}

var _ toolscache.TransformFunc = trimForCache
