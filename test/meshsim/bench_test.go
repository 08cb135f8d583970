package meshsim

import (
	"fmt"
	"testing"

	istioapiv1 "istio.io/api/networking/v1"
)

// bigMesh has services Services in 50 namespaces, each as Fledge leaves one mid-rollout: a
// primary and a canary Deployment of two pods each, a DestinationRule with both subsets, and
// a VirtualService with an A/B header route above a 90/10 split.
func bigMesh(services int) (Mesh, []string) {
	var m Mesh
	var hosts []string
	for i := range services {
		ns, name := fmt.Sprintf("ns-%d", i%50), fmt.Sprintf("svc-%d", i)
		hosts = append(hosts, name+"."+ns)
		m.Services = append(m.Services, kubeService(ns, name, labels("app", name)))
		m.Pods = append(m.Pods, deploymentPods(ns, name+"-primary", 2, labels("app", name, "role", "primary"), nil)...)
		m.Pods = append(m.Pods, deploymentPods(ns, name+"-canary", 2, labels("app", name, "role", "canary"), map[string]string{AnnotationErrorRate: "0.01", AnnotationLatency: "30ms"})...)
		m.DestinationRules = append(m.DestinationRules, newDR(ns, name, name, subsetOf("primary", "role", "primary"), subsetOf("canary", "role", "canary")))
		m.VirtualServices = append(m.VirtualServices, newVS(ns, name, []string{name},
			route("fledge-ab", []*istioapiv1.HTTPMatchRequest{{Headers: map[string]*istioapiv1.StringMatch{"x-canary": exact("insider")}}}, to(name, "canary", 100)),
			route("fledge-primary-canary", nil, to(name, "primary", 90), to(name, "canary", 10))))
	}
	return m, hosts
}

func TestTheBigMeshRoutes(t *testing.T) {
	m, hosts := bigMesh(1000)
	ix := NewIndex(m)
	d := ix.Route(Request{Namespace: "client", Host: hosts[777], Headers: headers("x-canary", "insider"), Rand: seeded()})
	if d.Route != "fledge-ab" || d.Served == nil || d.Served.Workload != "svc-777-canary" {
		t.Errorf("got %+v", d)
	}
}

func BenchmarkRoute(b *testing.B) {
	m, hosts := bigMesh(1000)
	ix := NewIndex(m)
	rng := seeded()
	reqs := make([]Request, len(hosts))
	for i, h := range hosts {
		reqs[i] = Request{Namespace: "client", Host: h, Path: "/api/items?id=3", Rand: rng}
		if i%10 == 0 {
			reqs[i].Headers = headers("x-canary", "insider")
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		ix.Route(reqs[i%len(reqs)])
	}
}

func BenchmarkNewIndex(b *testing.B) {
	m, _ := bigMesh(1000)
	b.ReportAllocs()
	for b.Loop() {
		NewIndex(m)
	}
}
