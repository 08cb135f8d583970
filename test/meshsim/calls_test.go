package meshsim

import (
	"net/http"
	"testing"

	istioapiv1 "istio.io/api/networking/v1"
)

// A fault injected only for the calls of the canary's pods (sourceLabels) fails the canary's
// own answers unless it tolerates failing dependencies; the primary is untouched.
func TestFaultsOnADependencyReachOnlyTheCallersTheyTarget(t *testing.T) {
	for _, tolerant := range []string{"false", "true"} {
		t.Run("tolerates="+tolerant, func(t *testing.T) {
			calls := map[string]string{AnnotationCalls: "payments", AnnotationToleratesFailures: tolerant}
			var m Mesh
			m.Services = append(m.Services, kubeService("shop", "web", labels("app", "web")), kubeService("shop", "payments", labels("app", "payments")))
			m.Pods = append(m.Pods, deploymentPods("shop", "web-primary", 1, labels("app", "web", "role", "primary"), calls)...)
			m.Pods = append(m.Pods, deploymentPods("shop", "web-canary", 1, labels("app", "web", "role", "canary"), calls)...)
			m.Pods = append(m.Pods, deploymentPods("shop", "payments", 1, labels("app", "payments"), nil)...)
			m.DestinationRules = append(m.DestinationRules, newDR("shop", "web", "web", subsetOf("primary", "role", "primary"), subsetOf("canary", "role", "canary")))
			m.VirtualServices = append(m.VirtualServices,
				newVS("shop", "web", []string{"web"}, route("split", nil, to("web", "primary", 50), to("web", "canary", 50))),
				newVS("shop", "payments-faults", []string{"payments"},
					&istioapiv1.HTTPRoute{
						Name:  "canary-calls",
						Match: []*istioapiv1.HTTPMatchRequest{{SourceLabels: labels("role", "canary")}},
						Fault: &istioapiv1.HTTPFaultInjection{Abort: &istioapiv1.HTTPFaultInjection_Abort{ErrorType: &istioapiv1.HTTPFaultInjection_Abort_HttpStatus{HttpStatus: 503}, Percentage: percent(100)}},
						Route: []*istioapiv1.HTTPRouteDestination{to("payments", "", 0)},
					},
					route("rest", nil, to("payments", "", 0)),
				),
			)
			ix := NewIndex(m)
			rng := seeded()
			codes := map[string]map[int]int{"web-primary": {}, "web-canary": {}}
			for range 200 {
				d := ix.Route(Request{Namespace: "shop", Host: "web", Rand: rng})
				codes[d.Served.Workload][d.Code]++
			}
			if codes["web-primary"][http.StatusOK] == 0 || len(codes["web-primary"]) != 1 {
				t.Errorf("the primary's calls are not faulted: %v", codes["web-primary"])
			}
			wantCanary := http.StatusInternalServerError
			if tolerant == "true" {
				wantCanary = http.StatusOK
			}
			if codes["web-canary"][wantCanary] == 0 || len(codes["web-canary"]) != 1 {
				t.Errorf("canary answers: %v, want all %d", codes["web-canary"], wantCanary)
			}
		})
	}
}
