package router

import (
	"context"
	"fmt"

	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// verifySubsets checks that the user's DestinationRule of spec.subsets routes the service and
// defines both subsets, so that Fledge never sends traffic to a subset that does not exist.
func (r *Istio) verifySubsets(ctx context.Context, canary *fledgev1alpha1.Canary) error {
	subsets := canary.Spec.Subsets
	key := client.ObjectKey{Namespace: canary.Namespace, Name: subsets.DestinationRule}
	dr := &istionetworkingv1.DestinationRule{}
	exists, err := r.get(ctx, key, dr, "DestinationRule")
	if err != nil {
		return err
	}
	if !exists {
		return fmt.Errorf("DestinationRule %s (spec.subsets.destinationRule) does not exist: create it or fix the name", key)
	}
	if host := ServiceName(canary); !sameHost(dr.Spec.Host, host, canary.Namespace) {
		return fmt.Errorf("DestinationRule %s is for host %q, not for the service %q: fix spec.service.name or spec.subsets.destinationRule", key, dr.Spec.Host, host)
	}
	for _, want := range []struct{ name, field string }{{subsets.Stable, "stable"}, {subsets.Candidate, "candidate"}} {
		found := false
		for _, s := range dr.Spec.Subsets {
			found = found || s.Name == want.name
		}
		if !found {
			return fmt.Errorf("DestinationRule %s has no subset %q: add it, or fix spec.subsets.%s", key, want.name, want.field)
		}
	}
	return nil
}
