package v1alpha1_test

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// A Canary routed for the mesh may name only its own Service; bound to gateways only, its
// hosts are the Gateway's to allow.
func TestHostsRoutedForTheMeshAreTheCanarysOwnService(t *testing.T) {
	canary := func(hosts []string, gateways ...string) *fledgev1alpha1.Canary {
		return &fledgev1alpha1.Canary{
			ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "web"},
			Spec:       fledgev1alpha1.CanarySpec{TargetRef: fledgev1alpha1.TargetRef{Name: "web"}, Service: fledgev1alpha1.CanaryService{Hosts: hosts, Gateways: gateways}},
		}
	}
	for _, c := range []struct {
		name    string
		canary  *fledgev1alpha1.Canary
		refused []string
	}{
		{"every name of its own Service", canary([]string{"web", "web.team-a", "web.team-a.svc", "Web.Team-A.svc.cluster.local"}), nil},
		{"the default: no hosts", canary(nil), nil},
		{"another team's Service", canary([]string{"web", "payments.team-b.svc.cluster.local"}), []string{"payments.team-b.svc.cluster.local"}},
		{"an outside API", canary([]string{"api.stripe.com"}, "mesh"), []string{"api.stripe.com"}},
		{"the same name in another domain", canary([]string{"web.team-a.svc.evil.example"}), []string{"web.team-a.svc.evil.example"}},
		{"an outside name, also for the mesh", canary([]string{"web.example.com"}, "istio-system/public", "mesh"), []string{"web.example.com"}},
		{"an outside name on a gateway only", canary([]string{"web.example.com"}, "istio-system/public"), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			errs := c.canary.HostErrors(fledgev1alpha1.DefaultClusterDomain)
			var refused []string
			for _, e := range errs {
				refused = append(refused, e.BadValue.(string))
				if !strings.Contains(e.Error(), "use web, web.team-a, web.team-a.svc, web.team-a.svc.cluster.local, or bind the host to gateways only") {
					t.Errorf("the refusal does not say what to write instead: %s", e.Error())
				}
			}
			if strings.Join(refused, ",") != strings.Join(c.refused, ",") {
				t.Errorf("refused %v, want %v", refused, c.refused)
			}
		})
	}
}
