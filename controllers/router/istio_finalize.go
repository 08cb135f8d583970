package router

import (
	"context"
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/proto"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/ownership"
	"fledge.dev/fledge/controllers/rollout"
	"fledge.dev/fledge/controllers/workload"
)

// Finalize puts back the user's original VirtualService (and DestinationRule) when Fledge
// took them over; otherwise it routes as settled says (everything to one version) and leaves
// its objects in place, no longer owned by the Canary, so that the service keeps running.
func (r *Istio) Finalize(ctx context.Context, canary *fledgev1alpha1.Canary, settled rollout.Routes) error {
	key := client.ObjectKey{Namespace: canary.Namespace, Name: ServiceName(canary)}
	if err := r.reconcileFaults(ctx, canary, nil); err != nil {
		return err
	}

	vs := &istionetworkingv1.VirtualService{}
	restored := false
	if exists, err := r.get(ctx, key, vs, "VirtualService"); err != nil {
		return err
	} else if exists && ownership.ManagedBy(vs) == canary.Name {
		if original, ok := vs.Annotations[AnnotationOriginal]; ok {
			if err := json.Unmarshal([]byte(original), &vs.Spec); err != nil {
				return fmt.Errorf("read the original spec of VirtualService %s: %w", key, err)
			}
			release(vs, canary)
			restored = true
		} else {
			want := virtualServiceSpec(canary, nil, settled, vs.Spec.ExportTo)
			proto.Reset(&vs.Spec)
			proto.Merge(&vs.Spec, want)
			ownership.Release(vs, canary)
		}
		if err := r.Client.Update(ctx, vs); err != nil {
			return fmt.Errorf("hand back VirtualService %s: %w", key, err)
		}
	}

	dr := &istionetworkingv1.DestinationRule{}
	if exists, err := r.get(ctx, key, dr, "DestinationRule"); err != nil {
		return err
	} else if exists && ownership.ManagedBy(dr) == canary.Name {
		// The primary subset stays while a VirtualService of Fledge's still routes to it.
		if original, ok := dr.Annotations[AnnotationOriginal]; ok && restored {
			if err := json.Unmarshal([]byte(original), &dr.Spec); err != nil {
				return fmt.Errorf("read the original spec of DestinationRule %s: %w", key, err)
			}
			release(dr, canary)
		} else {
			ownership.Release(dr, canary)
		}
		if err := r.Client.Update(ctx, dr); err != nil {
			return fmt.Errorf("hand back DestinationRule %s: %w", key, err)
		}
	}
	return nil
}

// release hands an object back to its user: no label, annotation or owner of Fledge's.
func release(obj client.Object, canary *fledgev1alpha1.Canary) {
	labels := obj.GetLabels()
	delete(labels, workload.LabelCanary)
	delete(labels, workload.LabelManagedBy)
	obj.SetLabels(labels)
	annotations := obj.GetAnnotations()
	delete(annotations, AnnotationOriginal)
	delete(annotations, AnnotationWritten)
	obj.SetAnnotations(annotations)
	ownership.Release(obj, canary)
}
