package router

import (
	"context"
	"encoding/json"
	"fmt"

	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/ownership"
)

// Remove hands routing back to the Service itself: the user's VirtualService and
// DestinationRule get their original specs back, the ones Fledge created are deleted (their
// subsets select the copies' pods, which are about to go).
func (r *Istio) Remove(ctx context.Context, canary *fledgev1alpha1.Canary) error {
	if err := r.reconcileFaults(ctx, canary, nil); err != nil {
		return err
	}
	key := client.ObjectKey{Namespace: canary.Namespace, Name: ServiceName(canary)}
	// The VirtualService first: it names the DestinationRule's subsets.
	if err := r.remove(ctx, canary, key, &istionetworkingv1.VirtualService{}); err != nil {
		return err
	}
	return r.remove(ctx, canary, key, &istionetworkingv1.DestinationRule{})
}

func (r *Istio) remove(ctx context.Context, canary *fledgev1alpha1.Canary, key client.ObjectKey, obj client.Object) error {
	kind := kindOf(obj)
	exists, err := r.get(ctx, key, obj, kind)
	if err != nil || !exists || ownership.ManagedBy(obj) != canary.Name {
		return err
	}
	original, adopted := obj.GetAnnotations()[AnnotationOriginal]
	if !adopted {
		if err := r.Client.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete %s %s: %w", kind, key, err)
		}
		return nil
	}
	spec, err := specOf(obj)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(original), spec); err != nil {
		return fmt.Errorf("read the original spec of %s %s: %w", kind, key, err)
	}
	release(obj, canary)
	if err := r.Client.Update(ctx, obj); err != nil {
		return fmt.Errorf("put back %s %s: %w", kind, key, err)
	}
	return nil
}
