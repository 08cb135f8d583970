package router

import (
	"context"
	"fmt"
	"strings"

	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// AnnotationSharedWith on an Istio Gateway lists the namespaces, other than its own, whose
// Canaries may bind their routes to it ("*" for every namespace), as spec.sharedWith does for
// MetricTemplates and AlertProviders. Fledge writes routes with its own rights: without the
// Gateway owners' word, anyone who may create a Canary could publish through their Gateway.
const AnnotationSharedWith = "fledge.dev/shared-with"

// +kubebuilder:rbac:groups=networking.istio.io,resources=gateways,verbs=get

// verifyGateways checks that every Gateway of spec.service in another namespace is shared
// with the Canary's. It reads the Gateways from the API server, and only when the routes are
// about to be written: Fledge keeps no cache of Gateways.
func (r *Istio) verifyGateways(ctx context.Context, canary *fledgev1alpha1.Canary) error {
	for _, ref := range canary.Spec.Service.Gateways {
		ns, name, ok := strings.Cut(ref, "/")
		if !ok || ref == "mesh" || ns == canary.Namespace {
			continue // the mesh, or a Gateway of the Canary's own namespace
		}
		gw := &istionetworkingv1.Gateway{}
		err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, gw)
		switch {
		case apierrors.IsNotFound(err):
			return fmt.Errorf("Gateway %s (spec.service.gateways) does not exist: create it or fix the name", ref)
		case err != nil:
			return fmt.Errorf("read Gateway %s: %w", ref, err)
		}
		if !fledgev1alpha1.MaySee(ns, sharedWith(gw.Annotations[AnnotationSharedWith]), canary.Namespace) {
			return fmt.Errorf("Gateway %s is not shared with namespace %s: its owners may annotate it %s=%s (a comma-separated list, or *)",
				ref, canary.Namespace, AnnotationSharedWith, canary.Namespace)
		}
	}
	return nil
}

func sharedWith(annotation string) []string {
	var out []string
	for _, ns := range strings.Split(annotation, ",") {
		if ns = strings.TrimSpace(ns); ns != "" {
			out = append(out, ns)
		}
	}
	return out
}
