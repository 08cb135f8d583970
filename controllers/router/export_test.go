package router

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// The routes of a Service are exported no further than the Service: its annotation, read as
// Istio's validation of exportTo wants it.
func TestRoutesAreExportedNoFurtherThanTheService(t *testing.T) {
	for _, c := range []struct {
		annotation *string
		want       []string
	}{
		{nil, nil}, // the mesh's default, as for the Service
		{ptrTo("."), []string{"."}},
		{ptrTo("shop"), []string{"."}},
		{ptrTo("shop, ., frontend,frontend"), []string{".", "frontend"}},
		{ptrTo("frontend,*"), []string{"*"}},
		{ptrTo("~"), []string{"."}},
		{ptrTo(" , "), nil},
	} {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}}
		if c.annotation != nil {
			svc.Annotations = map[string]string{AnnotationExportTo: *c.annotation}
		}
		got := exportToOf(svc)
		if !slices.Equal(got, c.want) {
			t.Errorf("exportTo of a Service annotated %v = %q, want %q", c.annotation, got, c.want)
		}
		vs := virtualServiceSpec(testCanary(), nil, routesAt(testCanary(), 80, 20), got)
		dr := destinationRuleSpec(testCanary(), nil, true, got)
		if !slices.Equal(vs.ExportTo, c.want) || !slices.Equal(dr.ExportTo, c.want) {
			t.Errorf("VirtualService exported to %q, DestinationRule to %q, want %q", vs.ExportTo, dr.ExportTo, c.want)
		}
	}
}

// The fault gate takes over the calls to a dependency that is not the Canary's: only the
// Canary's own namespace sees it, whatever the dependency's own routes export. A dependency
// named name.namespace is the Service's name in the cluster's domain.
func TestTheFaultGateIsSeenByTheCanarysNamespaceOnly(t *testing.T) {
	vs := faultsSpec(testCanary(), &fledgev1alpha1.FaultInjection{Dependency: "payments.team-b", Abort: &fledgev1alpha1.FaultAbort{Percentage: 50}}, "corp.internal")
	if !slices.Equal(vs.ExportTo, []string{"."}) {
		t.Errorf("the fault gate's VirtualService is exported to %q, want only its own namespace", vs.ExportTo)
	}
	if !slices.Equal(vs.Hosts, []string{"payments.team-b.svc.corp.internal"}) {
		t.Errorf("the fault gate is for hosts %q, want payments.team-b.svc.corp.internal", vs.Hosts)
	}
}

func ptrTo[T any](v T) *T { return &v }
