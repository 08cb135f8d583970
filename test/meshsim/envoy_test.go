package meshsim

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"fledge.dev/fledge/test/istioxds"
)

// fakeIstiod hands every proxy one snapshot, and records who asked for what.
type fakeIstiod struct {
	config *EnvoyConfig

	mu      sync.Mutex
	asked   []string
	byIstio int
	byOwn   int
}

func (f *fakeIstiod) For(p Proxy, route string) *EnvoyConfig {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, fmt.Sprintf("%s/%s route %s", p.Namespace, p.Pod, route))
	return f.config
}

func (f *fakeIstiod) Routed(byIstiod bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if byIstiod {
		f.byIstio++
	} else {
		f.byOwn++
	}
}

const (
	webPrimaryCluster = "outbound|80|primary|web.shop.svc.cluster.local"
	webCanaryCluster  = "outbound|80|canary|web.shop.svc.cluster.local"
)

// ipMesh is the standard mesh with pod IPs 10.0.0.1 (primary), .2 (primary), .3 (canary),
// .4 (canary), the order deploymentPods makes them in, and a VirtualService that sends
// everything to the primary.
func ipMesh() Mesh {
	m := shopMesh(splitVS(100, 0))
	for i, p := range m.Pods {
		p.Status.PodIP = fmt.Sprintf("10.0.0.%d", i+1)
	}
	return m
}

// weightedRoute is an Envoy route for web splitting between clusters by weight, as istiod
// writes one from a VirtualService route (with its metadata).
func weightedRoute(name string, weights map[string]uint32) *routev3.Route {
	var clusters []*routev3.WeightedCluster_ClusterWeight
	for _, c := range []string{webPrimaryCluster, webCanaryCluster} {
		if w, ok := weights[c]; ok {
			clusters = append(clusters, &routev3.WeightedCluster_ClusterWeight{Name: c, Weight: wrapperspb.UInt32(w)})
		}
	}
	meta, _ := structpb.NewStruct(map[string]any{"config": "/apis/networking.istio.io/v1/namespaces/shop/virtual-service/web"})
	return &routev3.Route{
		Name:     name,
		Match:    &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
		Metadata: &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{"istio": meta}},
		Action: &routev3.Route_Route{Route: &routev3.RouteAction{
			ClusterSpecifier: &routev3.RouteAction_WeightedClusters{WeightedClusters: &routev3.WeightedCluster{Clusters: clusters}},
		}},
	}
}

func snapshotOf(r *routev3.Route, endpoints map[string][]string) *EnvoyConfig {
	clusters := map[string]bool{}
	for c := range endpoints {
		clusters[c] = true
	}
	return NewEnvoyConfig(&istioxds.Snapshot{
		Routes: map[string]*routev3.RouteConfiguration{"80": {Name: "80", VirtualHosts: []*routev3.VirtualHost{{
			Name: "web.shop.svc.cluster.local:80", Domains: []string{"web.shop.svc.cluster.local", "web", "web.shop", "web.shop.svc"}, Routes: []*routev3.Route{r},
		}}}},
		Clusters: clusters, Endpoints: endpoints,
	})
}

func envoyIndex(config *EnvoyConfig) (*Index, *fakeIstiod) {
	fake := &fakeIstiod{config: config}
	m := ipMesh()
	m.Envoy = fake
	return NewIndex(m), fake
}

// The simulator's reading says all to the primary; istiod's configuration says all to the
// canary. What a client gets is what istiod's says, through the endpoints istiod sends.
func TestSidecarTrafficFollowsIstiodsConfigurationNotTheSimulatorsReading(t *testing.T) {
	config := snapshotOf(weightedRoute("split", map[string]uint32{webPrimaryCluster: 0, webCanaryCluster: 100}), map[string][]string{
		webPrimaryCluster: {"10.0.0.1", "10.0.0.2"}, webCanaryCluster: {"10.0.0.3"},
	})
	ix, fake := envoyIndex(config)
	d := ix.Route(Request{Namespace: "shop", Host: "web", Rand: seeded()})
	if d.Code != http.StatusOK || d.Served == nil || d.Served.Workload != "web-canary" || d.Route != "split" || d.VirtualService != "shop/web" {
		t.Fatalf("routed %+v (served %+v), want web-canary by route split of shop/web", d, d.Served)
	}
	// Only the endpoint istiod sent serves, though the simulator knows two canary pods.
	counts := map[string]int{}
	for range 200 {
		counts[ix.Route(Request{Namespace: "shop", Host: "web", Rand: seeded()}).Served.Pod]++
	}
	if len(counts) != 1 || counts[ix.endpointsByIP["10.0.0.3"].pod] != 200 {
		t.Errorf("served by %v, want only the pod at 10.0.0.3", counts)
	}
	if fake.byIstio != 201 || fake.byOwn != 0 {
		t.Errorf("counted %d by istiod and %d by the simulator's reading, want 201 and 0", fake.byIstio, fake.byOwn)
	}
	if !strings.Contains(fake.asked[0], "shop/ route 80") {
		t.Errorf("asked %q, want the shop client's sidecar for route 80", fake.asked[0])
	}
}

func TestWithoutIstiodsConfigurationTheSimulatorReadsTheMeshItself(t *testing.T) {
	ix, fake := envoyIndex(nil)
	d := ix.Route(Request{Namespace: "shop", Host: "web", Rand: seeded()})
	if d.Served == nil || d.Served.Workload != "web-primary" || fake.byOwn != 1 || fake.byIstio != 0 {
		t.Fatalf("routed %+v with %d own and %d istiod counts, want web-primary by its own reading", d, fake.byOwn, fake.byIstio)
	}
}

// Envoy answers 503 with "no cluster" for a cluster istiod did not send, and with "no
// healthy upstream" for one without endpoints.
func TestIstiodsClustersDecideWhatExists(t *testing.T) {
	for _, tc := range []struct {
		name      string
		endpoints map[string][]string
		flag      string
	}{
		{"a subset istiod has no cluster for", map[string][]string{webPrimaryCluster: {"10.0.0.1"}}, FlagNoClusterFound},
		{"a cluster without endpoints", map[string][]string{webPrimaryCluster: {"10.0.0.1"}, webCanaryCluster: nil}, FlagNoHealthyUpstream},
		{"endpoints of pods the simulator does not know", map[string][]string{webCanaryCluster: {"10.9.9.9"}}, FlagNoHealthyUpstream},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ix, _ := envoyIndex(snapshotOf(weightedRoute("split", map[string]uint32{webCanaryCluster: 100}), tc.endpoints))
			d := ix.Route(Request{Namespace: "shop", Host: "web", Rand: seeded()})
			if d.Code != http.StatusServiceUnavailable || d.Flags != tc.flag || d.Served != nil {
				t.Errorf("routed %+v, want 503 %s", d, tc.flag)
			}
		})
	}
}

// Retries, timeouts, mirrors and faults are Envoy's as istiod set them on the route.
func TestEnvoysRoutePolicyIsApplied(t *testing.T) {
	r := weightedRoute("split", map[string]uint32{webCanaryCluster: 100})
	action := r.GetRoute()
	action.RetryPolicy = &routev3.RetryPolicy{RetryOn: "5xx", NumRetries: wrapperspb.UInt32(2)}
	action.Timeout = durationpb.New(time.Second)
	action.RequestMirrorPolicies = []*routev3.RouteAction_RequestMirrorPolicy{{Cluster: webPrimaryCluster}}
	config := snapshotOf(r, map[string][]string{webPrimaryCluster: {"10.0.0.1"}, webCanaryCluster: {"10.0.0.3"}})
	m := ipMesh()
	m.Pods[2].Annotations = map[string]string{AnnotationErrorRate: "1"} // the canary pod at 10.0.0.3 always fails
	m.Envoy = &fakeIstiod{config: config}
	ix := NewIndex(m)
	d := ix.Route(Request{Namespace: "shop", Host: "web", Rand: seeded()})
	if d.Code != http.StatusInternalServerError || len(d.Retries) != 2 || len(d.Mirrored) != 1 || d.Mirrored[0].Workload != "web-primary" {
		t.Fatalf("routed %+v, want a 500 after 2 retries, mirrored once to the primary", d)
	}
}

// A pod's calls leave through its own sidecar, which istiod configures for that pod.
func TestCallsOfAPodAskForThatPodsSidecar(t *testing.T) {
	config := snapshotOf(weightedRoute("split", map[string]uint32{webPrimaryCluster: 100}), map[string][]string{webPrimaryCluster: {"10.0.0.1"}})
	fake := &fakeIstiod{config: config}
	m := ipMesh()
	m.Services = append(m.Services, kubeService("shop", "front", labels("app", "front")))
	front := deploymentPods("shop", "front", 1, labels("app", "front"), map[string]string{AnnotationCalls: "web"})[0]
	front.Status.PodIP = "10.0.1.1"
	m.Pods = append(m.Pods, front)
	m.Envoy = fake
	ix := NewIndex(m)
	calls, routes := ix.callers()
	want := Proxy{Namespace: "shop", Labels: front.Labels, Pod: front.Name, IP: "10.0.1.1"}
	got, ok := calls[proxyKey(want)]
	if !ok || got.IP != want.IP || len(routes[proxyKey(want)]) != 1 || routes[proxyKey(want)][0] != "80" {
		t.Fatalf("callers %v with routes %v, want front's pod calling through route 80", calls, routes)
	}
	e := ix.endpointsByIP["10.0.1.1"]
	d := ix.route(Request{Namespace: "shop", Host: "web", SourceLabels: e.labels, from: e}, seeded(), 1)
	if d.Served == nil || d.Served.Workload != "web-primary" {
		t.Fatalf("the call was routed %+v, want web-primary", d)
	}
	if last := fake.asked[len(fake.asked)-1]; last != "shop/"+front.Name+" route 80" {
		t.Errorf("the call asked %q, want front's own sidecar", last)
	}
}
