package router

import (
	"context"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// AnnotationExportTo is Istio's annotation of a Service that limits the namespaces whose
// sidecars and gateways see it.
const AnnotationExportTo = "networking.istio.io/exportTo"

// exportTo is the exportTo of the VirtualService and DestinationRule Fledge writes for the
// canary's Service: the Service's own, so that its routes reach no namespace the Service does
// not. Without the annotation it is unset, the mesh's default, as it is for the Service.
func (r *Istio) exportTo(ctx context.Context, canary *fledgev1alpha1.Canary) ([]string, error) {
	svc := &corev1.Service{}
	exists, err := r.get(ctx, client.ObjectKey{Namespace: canary.Namespace, Name: ServiceName(canary)}, svc, "Service")
	if err != nil || !exists {
		return nil, err
	}
	return exportToOf(svc), nil
}

// exportToOf reads the Service's annotation as Istio's validation of exportTo takes it: "*"
// alone, the Service's own namespace as ".", no repeats. "~" (seen by no one) leaves the
// routes to the Service's own namespace, the least a VirtualService may be exported to.
func exportToOf(svc *corev1.Service) []string {
	value, ok := svc.Annotations[AnnotationExportTo]
	if !ok {
		return nil
	}
	var out []string
	for _, ns := range strings.Split(value, ",") {
		switch ns = strings.TrimSpace(ns); ns {
		case "":
			continue
		case "*":
			return []string{"*"}
		case "~", svc.Namespace:
			ns = "."
		}
		if !slices.Contains(out, ns) {
			out = append(out, ns)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// exportToOwnNamespace is the exportTo of the fault gate's VirtualService: it takes over the
// calls to a dependency that is not the Canary's, so no namespace but the Canary's sees it
// (and only its canary's pods match its faults).
var exportToOwnNamespace = []string{"."}
