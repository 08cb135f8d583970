package meshsim

import (
	"math/rand/v2"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"
	istioapiv1 "istio.io/api/networking/v1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestHostForms(t *testing.T) {
	for _, vsHost := range []string{"web", "web.shop", "web.shop.svc", "web.shop.svc.cluster.local"} {
		ix := NewIndex(shopMesh(newVS("shop", "web", []string{vsHost}, route("vs", nil, to("web", "canary", 0)))))
		cases := []struct {
			namespace, host string
			viaVS           bool
		}{
			{"shop", "web", true},
			{"shop", "web.shop", true},
			{"shop", "web.shop.svc", true},
			{"shop", "web.shop.svc.cluster.local", true},
			{"shop", "WEB.shop.svc.cluster.local.", true},
			{"shop", "web:8080", true},
			{"other", "web.shop", true},
			{"other", "web.shop.svc.cluster.local", true},
		}
		for _, c := range cases {
			d := NewIndex(shopMesh()).Route(Request{Namespace: c.namespace, Host: c.host, Rand: seeded()})
			if d.Code != 200 || d.Route != "" {
				t.Errorf("without a VirtualService %s from %s: %+v", c.host, c.namespace, d)
			}
			d = ix.Route(Request{Namespace: c.namespace, Host: c.host, Rand: seeded()})
			if (d.Route == "vs") != c.viaVS || d.Code != 200 {
				t.Errorf("VirtualService host %q, request %q from %s: %+v", vsHost, c.host, c.namespace, d)
			}
		}
		// "web" from another namespace is web.other, which does not exist.
		if d := ix.Route(Request{Namespace: "other", Host: "web", Rand: seeded()}); d.Code != 503 || d.Flags != FlagNoClusterFound {
			t.Errorf("web from other: %+v", d)
		}
	}
}

func TestAShortHostInAVirtualServiceIsInItsNamespace(t *testing.T) {
	// A VirtualService in another namespace naming "web" is about web.other, not web.shop.
	ix := NewIndex(shopMesh(newVS("other", "web", []string{"web"}, route("other", nil, to("web.shop.svc.cluster.local", "canary", 0)))))
	if d := ix.Route(Request{Namespace: "shop", Host: "web", Rand: seeded()}); d.Route != "" {
		t.Errorf("web.shop took %q", d.Route)
	}
}

func TestWildcardHostsAreLessSpecificThanExactOnes(t *testing.T) {
	m := shopMesh(
		newVS("shop", "all", []string{"*.shop.svc.cluster.local"}, route("wildcard", nil, to("web", "primary", 0))),
		newVS("shop", "web", []string{"web"}, route("exact", nil, to("web", "canary", 0))))
	m.Services = append(m.Services, kubeService("shop", "api", labels("app", "web")))
	ix := NewIndex(m)
	if d := ix.Route(Request{Namespace: "shop", Host: "web", Rand: seeded()}); d.Route != "exact" {
		t.Errorf("web took %q", d.Route)
	}
	if d := ix.Route(Request{Namespace: "shop", Host: "api", Rand: seeded()}); d.Route != "wildcard" {
		t.Errorf("api took %q", d.Route)
	}
}

func TestGateways(t *testing.T) {
	gatewayOnly := newVS("shop", "web", []string{"web"}, route("public", nil, to("web", "canary", 0)))
	gatewayOnly.Spec.Gateways = []string{"public"}
	both := newVS("shop", "web", []string{"web"}, route("both", nil, to("web", "canary", 0)))
	both.Spec.Gateways = []string{"mesh", "istio-system/ingress"}
	cases := []struct {
		name    string
		vs      *networkingv1.VirtualService
		gateway string
		route   string
		code    int
	}{
		{"a gateway-bound VirtualService does not route the mesh", gatewayOnly, "", "", 200},
		{"it routes its gateway", gatewayOnly, "shop/public", "public", 200},
		{"not another gateway, which has no route", gatewayOnly, "shop/private", "", 404},
		{"mesh in the list routes the mesh", both, "mesh", "both", 200},
		{"and the gateway", both, "istio-system/ingress", "both", 200},
	}
	for _, c := range cases {
		host := "web"
		if c.gateway != "" && c.gateway != "mesh" {
			host = "web.shop.svc.cluster.local"
		}
		d := NewIndex(shopMesh(c.vs)).Route(Request{Namespace: "shop", Host: host, Gateway: c.gateway, Rand: seeded()})
		if d.Route != c.route || d.Code != c.code {
			t.Errorf("%s: %+v", c.name, d)
		}
	}
}

func TestMatchGatewaysNarrowARoute(t *testing.T) {
	vs := newVS("shop", "web", []string{"web"},
		route("from-ingress", []*istioapiv1.HTTPMatchRequest{{Gateways: []string{"ingress"}}}, to("web", "canary", 0)),
		route("rest", nil, to("web", "primary", 0)))
	vs.Spec.Gateways = []string{"mesh", "ingress"}
	ix := NewIndex(shopMesh(vs))
	if d := ix.Route(Request{Namespace: "shop", Host: "web", Rand: seeded()}); d.Route != "rest" {
		t.Errorf("mesh took %q", d.Route)
	}
	if d := ix.Route(Request{Host: "web.shop.svc.cluster.local", Gateway: "shop/ingress", Rand: seeded()}); d.Route != "from-ingress" {
		t.Errorf("ingress took %q", d.Route)
	}
}

func TestWeights(t *testing.T) {
	const n = 20000
	cases := []struct {
		primary, canary int32
		wantCanary      float64
		tolerance       float64
	}{
		{80, 20, 0.20, 0.02},
		{50, 50, 0.50, 0.02},
		{100, 0, 0, 0},
		{0, 100, 1, 0},
		{8, 2, 0.20, 0.02}, // weights are relative
	}
	for _, c := range cases {
		counts := routeMany(NewIndex(shopMesh(splitVS(c.primary, c.canary))), Request{Namespace: "shop", Host: "web"}, n)
		share := float64(counts["web-canary"]) / n
		if !near(share, c.wantCanary, c.tolerance) || counts["web-canary"]+counts["web-primary"] != n {
			t.Errorf("%d/%d: canary share %.4f, counts %v", c.primary, c.canary, share, counts)
		}
	}
}

func TestASingleDestinationTakesEverythingWhateverItsWeight(t *testing.T) {
	for _, w := range []int32{0, 30, 100} {
		vs := newVS("shop", "web", []string{"web"}, route("one", nil, to("web", "canary", w)))
		counts := routeMany(NewIndex(shopMesh(vs)), Request{Namespace: "shop", Host: "web"}, 1000)
		if counts["web-canary"] != 1000 {
			t.Errorf("weight %d: %v", w, counts)
		}
	}
}

func TestSubsetsSelectByTheirLabelsAndTheServiceSelector(t *testing.T) {
	m := shopMesh(splitVS(0, 100))
	// Labelled as the canary subset, but not selected by the Service.
	m.Pods = append(m.Pods, deploymentPods("shop", "stray", 2, labels("app", "other", "role", "canary"), nil)...)
	// Selected and labelled, but in another namespace.
	m.Pods = append(m.Pods, deploymentPods("elsewhere", "web-canary", 2, labels("app", "web", "role", "canary"), nil)...)
	ix := NewIndex(m)
	rng := seeded()
	pods := map[string]bool{}
	for range 2000 {
		d := ix.Route(Request{Namespace: "shop", Host: "web", Rand: rng})
		if d.Served == nil || d.Served.Workload != "web-canary" || d.Served.Namespace != "shop" {
			t.Fatalf("served by %+v", d.Served)
		}
		pods[d.Served.Pod] = true
	}
	if len(pods) != 2 {
		t.Errorf("want both canary pods used, got %v", pods)
	}
}

func TestOnlyReadyPodsThatAreNotTerminatingServe(t *testing.T) {
	m := shopMesh(splitVS(0, 100))
	canary := deploymentPods("shop", "web-canary", 4, labels("app", "web", "role", "canary"), nil)
	canary[0].Name = "ready"
	canary[1].Name, canary[1].Status.Conditions[0].Status = "not-ready", corev1.ConditionFalse
	canary[2].Name, canary[2].DeletionTimestamp = "terminating", ptr(metav1.Now())
	canary[3].Name, canary[3].Status.Conditions = "starting", nil
	m.Pods = append(m.Pods[:2], canary...) // the primary pods and these
	counts := map[string]int{}
	rng := seeded()
	ix := NewIndex(m)
	for range 1000 {
		d := ix.Route(Request{Namespace: "shop", Host: "web", Rand: rng})
		counts[d.Served.Pod]++
	}
	if counts["ready"] != 1000 {
		t.Errorf("pods used: %v", counts)
	}
}

func TestPublishNotReadyAddressesServesNotReadyPods(t *testing.T) {
	m := shopMesh()
	m.Services[0].Spec.PublishNotReadyAddresses = true
	for _, p := range m.Pods {
		p.Status.Conditions = nil
	}
	if d := NewIndex(m).Route(Request{Namespace: "shop", Host: "web", Rand: seeded()}); d.Code != 200 {
		t.Errorf("got %+v", d)
	}
}

func TestUnservableDestinations(t *testing.T) {
	notReady := func(m Mesh) Mesh {
		for _, p := range m.Pods {
			if p.Labels["role"] == "canary" {
				p.Status.Conditions[0].Status = corev1.ConditionFalse
			}
		}
		return m
	}
	cases := []struct {
		name  string
		mesh  Mesh
		flags string
	}{
		{"no ready pod in the subset", notReady(shopMesh(splitVS(0, 100))), FlagNoHealthyUpstream},
		{"no pod at all", func() Mesh { m := shopMesh(); m.Pods = nil; return m }(), FlagNoHealthyUpstream},
		{"a Service without a selector", func() Mesh { m := shopMesh(); m.Services[0].Spec.Selector = nil; return m }(), FlagNoHealthyUpstream},
		{"a subset the DestinationRule does not have", shopMesh(newVS("shop", "web", []string{"web"}, route("r", nil, to("web", "v3", 0)))), FlagNoClusterFound},
		{"a subset without any DestinationRule", func() Mesh { m := shopMesh(splitVS(0, 100)); m.DestinationRules = nil; return m }(), FlagNoClusterFound},
		{"a destination host that is no Service", shopMesh(newVS("shop", "web", []string{"web"}, route("r", nil, to("nowhere", "", 0)))), FlagNoClusterFound},
		{"a host that is neither", shopMesh(), FlagNoClusterFound},
	}
	for _, c := range cases {
		host := "web"
		if c.name == "a host that is neither" {
			host = "nowhere"
		}
		d := NewIndex(c.mesh).Route(Request{Namespace: "shop", Host: host, Rand: seeded()})
		if d.Code != 503 || d.Flags != c.flags || d.Served != nil {
			t.Errorf("%s: %+v", c.name, d)
		}
	}
}

func TestWithoutAVirtualServiceTheServiceBalancesOverAllItsPods(t *testing.T) {
	counts := routeMany(NewIndex(shopMesh()), Request{Namespace: "shop", Host: "web"}, 20000)
	if !near(float64(counts["web-primary"])/20000, 0.5, 0.02) || counts["web-primary"]+counts["web-canary"] != 20000 {
		t.Errorf("counts %v", counts)
	}
}

func TestFaultInjection(t *testing.T) {
	const n = 20000
	abort := func(pct *istioapiv1.Percent) *istioapiv1.HTTPFaultInjection {
		return &istioapiv1.HTTPFaultInjection{Abort: &istioapiv1.HTTPFaultInjection_Abort{ErrorType: &istioapiv1.HTTPFaultInjection_Abort_HttpStatus{HttpStatus: 418}, Percentage: pct}}
	}
	delay := func(pct *istioapiv1.Percent) *istioapiv1.HTTPFaultInjection {
		return &istioapiv1.HTTPFaultInjection{Delay: &istioapiv1.HTTPFaultInjection_Delay{HttpDelayType: &istioapiv1.HTTPFaultInjection_Delay_FixedDelay{FixedDelay: duration(time.Second)}, Percentage: pct}}
	}
	cases := []struct {
		name             string
		fault            *istioapiv1.HTTPFaultInjection
		aborted, delayed float64
	}{
		{"abort 30%", abort(percent(30)), 0.30, 0},
		{"abort all", abort(percent(100)), 1, 0},
		{"abort without a percentage aborts nothing", abort(nil), 0, 0},
		{"delay 50%", delay(percent(50)), 0, 0.50},
		{"delay 0.5%", delay(percent(0.5)), 0, 0.005},
		{"delay without a percentage delays nothing", delay(nil), 0, 0},
	}
	for _, c := range cases {
		r := route("faulty", nil, to("web", "primary", 0))
		r.Fault = c.fault
		ix := NewIndex(shopMesh(newVS("shop", "web", []string{"web"}, r)))
		rng := seeded()
		var aborted, delayed int
		for range n {
			d := ix.Route(Request{Namespace: "shop", Host: "web", Rand: rng})
			switch {
			case d.Code == 418:
				aborted++
				if d.Served != nil || d.Flags != FlagFaultInjected {
					t.Fatalf("%s: an aborted request reached %+v (flags %q)", c.name, d.Served, d.Flags)
				}
			case d.Latency >= time.Second:
				delayed++
				if d.Code != 200 || d.Served == nil || d.Served.Latency >= time.Second || d.Flags != FlagDelayInjected {
					t.Fatalf("%s: delayed request %+v", c.name, d)
				}
			}
		}
		if !near(float64(aborted)/n, c.aborted, 0.01) || !near(float64(delayed)/n, c.delayed, 0.01) {
			t.Errorf("%s: aborted %d, delayed %d of %d", c.name, aborted, delayed, n)
		}
	}
}

func TestADelayedAbortWaitsThenAnswers(t *testing.T) {
	r := route("faulty", nil, to("web", "primary", 0))
	r.Fault = &istioapiv1.HTTPFaultInjection{
		Delay: &istioapiv1.HTTPFaultInjection_Delay{HttpDelayType: &istioapiv1.HTTPFaultInjection_Delay_FixedDelay{FixedDelay: duration(2 * time.Second)}, Percentage: percent(100)},
		Abort: &istioapiv1.HTTPFaultInjection_Abort{ErrorType: &istioapiv1.HTTPFaultInjection_Abort_HttpStatus{HttpStatus: 503}, Percentage: percent(100)},
	}
	d := NewIndex(shopMesh(newVS("shop", "web", []string{"web"}, r))).Route(Request{Namespace: "shop", Host: "web", Rand: seeded()})
	if d.Code != 503 || d.Latency != 2*time.Second || d.Served != nil || d.Flags != "DI,FI" {
		t.Errorf("got %+v", d)
	}
}

func TestMirroring(t *testing.T) {
	const n = 20000
	cases := []struct {
		name  string
		set   func(*istioapiv1.HTTPRoute)
		share map[string]float64 // mirrored workload: share of requests
	}{
		{"mirror without a percentage mirrors everything", func(r *istioapiv1.HTTPRoute) {
			r.Mirror = &istioapiv1.Destination{Host: "web", Subset: "canary"}
		}, map[string]float64{"web-canary": 1}},
		{"mirrorPercentage", func(r *istioapiv1.HTTPRoute) {
			r.Mirror = &istioapiv1.Destination{Host: "web", Subset: "canary"}
			r.MirrorPercentage = percent(25)
		}, map[string]float64{"web-canary": 0.25}},
		{"the deprecated mirrorPercent", func(r *istioapiv1.HTTPRoute) {
			r.Mirror = &istioapiv1.Destination{Host: "web", Subset: "canary"}
			r.MirrorPercent = wrapperspb.UInt32(10)
		}, map[string]float64{"web-canary": 0.10}},
		{"mirrors, each with its percentage", func(r *istioapiv1.HTTPRoute) {
			r.Mirrors = []*istioapiv1.HTTPMirrorPolicy{
				{Destination: &istioapiv1.Destination{Host: "web", Subset: "canary"}, Percentage: percent(40)},
				{Destination: &istioapiv1.Destination{Host: "web", Subset: "primary"}},
			}
		}, map[string]float64{"web-canary": 0.40, "web-primary": 1}},
		{"a mirror without endpoints is dropped", func(r *istioapiv1.HTTPRoute) {
			r.Mirror = &istioapiv1.Destination{Host: "web", Subset: "v9"}
		}, map[string]float64{}},
	}
	for _, c := range cases {
		r := route("main", nil, to("web", "primary", 0))
		c.set(r)
		ix := NewIndex(shopMesh(newVS("shop", "web", []string{"web"}, r)))
		rng := seeded()
		mirrored := map[string]int{}
		for range n {
			d := ix.Route(Request{Namespace: "shop", Host: "web", Rand: rng})
			if d.Code != 200 || d.Served == nil || d.Served.Workload != "web-primary" {
				t.Fatalf("%s: the main request %+v", c.name, d)
			}
			for _, s := range d.Mirrored {
				mirrored[s.Workload]++
			}
		}
		for w, share := range c.share {
			if got := float64(mirrored[w]) / n; !near(got, share, 0.02) {
				t.Errorf("%s: %s mirrored %.3f, want %.2f", c.name, w, got, share)
			}
		}
		if len(mirrored) != len(c.share) {
			t.Errorf("%s: mirrored %v", c.name, mirrored)
		}
	}
}

func TestAMirroredAnswerIsDiscarded(t *testing.T) {
	m := shopMesh()
	for _, p := range m.Pods {
		if p.Labels["role"] == "canary" {
			p.Annotations = map[string]string{AnnotationErrorRate: "1", AnnotationLatency: "5s"}
		}
	}
	r := route("main", nil, to("web", "primary", 0))
	r.Mirror = &istioapiv1.Destination{Host: "web", Subset: "canary"}
	m.VirtualServices = append(m.VirtualServices, newVS("shop", "web", []string{"web"}, r))
	d := NewIndex(m).Route(Request{Namespace: "shop", Host: "web", Rand: seeded()})
	if d.Code != 200 || d.Latency > time.Second || len(d.Mirrored) != 1 || d.Mirrored[0].Code != 500 || d.Mirrored[0].Workload != "web-canary" {
		t.Errorf("got %+v", d)
	}
}

// constantPods sets every pod of the mesh to answer after latency, with errorRate.
func constantPods(m Mesh, role string, latency time.Duration, errorRate string) Mesh {
	for _, p := range m.Pods {
		if p.Labels["role"] == role {
			p.Annotations = map[string]string{AnnotationLatency: latency.String(), AnnotationLatencyP99: latency.String(), AnnotationErrorRate: errorRate}
		}
	}
	return m
}

func TestRouteTimeout(t *testing.T) {
	cases := []struct {
		name       string
		latency    time.Duration
		code       int
		clientSees time.Duration
		serverCode int
		serverSees time.Duration
	}{
		{"slower than the timeout", 300 * time.Millisecond, 504, 100 * time.Millisecond, 0, 100 * time.Millisecond},
		{"within the timeout", 50 * time.Millisecond, 200, 50 * time.Millisecond, 200, 50 * time.Millisecond},
	}
	for _, c := range cases {
		r := route("timed", nil, to("web", "primary", 0))
		r.Timeout = duration(100 * time.Millisecond)
		m := constantPods(shopMesh(newVS("shop", "web", []string{"web"}, r)), "primary", c.latency, "0")
		d := NewIndex(m).Route(Request{Namespace: "shop", Host: "web", Rand: seeded()})
		if d.Code != c.code || d.Latency != c.clientSees || d.Served == nil || d.Served.Code != c.serverCode || d.Served.Latency != c.serverSees {
			t.Errorf("%s: %+v served %+v", c.name, d, d.Served)
		}
		if c.code == 504 && d.Flags != FlagUpstreamTimeout {
			t.Errorf("%s: flags %q", c.name, d.Flags)
		}
	}
}

func TestRetries(t *testing.T) {
	retrying := func(retryOn string, attempts int32, perTry time.Duration) *istioapiv1.HTTPRetry {
		r := &istioapiv1.HTTPRetry{Attempts: attempts, RetryOn: retryOn}
		if perTry > 0 {
			r.PerTryTimeout = duration(perTry)
		}
		return r
	}
	cases := []struct {
		name     string
		retries  *istioapiv1.HTTPRetry
		timeout  time.Duration
		latency  time.Duration
		errors   string
		code     int
		attempts int
	}{
		{"Istio's default policy does not retry a 500", nil, 0, 10 * time.Millisecond, "1", 500, 1},
		{"5xx retries a 500", retrying("5xx", 2, 0), 0, 10 * time.Millisecond, "1", 500, 3},
		{"gateway-error does not retry a 500", retrying("gateway-error", 2, 0), 0, 10 * time.Millisecond, "1", 500, 1},
		{"a listed status code is retried", retrying("500", 3, 0), 0, 10 * time.Millisecond, "1", 500, 4},
		{"no retry after a success", retrying("5xx", 2, 0), 0, 10 * time.Millisecond, "0", 200, 1},
		{"0 attempts disables retries", retrying("5xx", 0, 0), 0, 10 * time.Millisecond, "1", 500, 1},
		{"a per-try timeout is retried under 5xx", retrying("5xx", 2, 50*time.Millisecond), 0, time.Second, "0", 504, 3},
		// The second attempt starts within 125ms and is cut short at 150ms.
		{"the route timeout bounds the retries", retrying("5xx", 5, 0), 150 * time.Millisecond, 100 * time.Millisecond, "1", 504, 2},
	}
	for _, c := range cases {
		r := route("retrying", nil, to("web", "primary", 0))
		r.Retries = c.retries
		if c.timeout > 0 {
			r.Timeout = duration(c.timeout)
		}
		m := constantPods(shopMesh(newVS("shop", "web", []string{"web"}, r)), "primary", c.latency, c.errors)
		d := NewIndex(m).Route(Request{Namespace: "shop", Host: "web", Rand: seeded()})
		if d.Code != c.code || d.Served == nil || len(d.Retries)+1 != c.attempts {
			t.Errorf("%s: code %d after %d attempts, want %d after %d (%+v)", c.name, d.Code, len(d.Retries)+1, c.code, c.attempts, d)
			continue
		}
		if c.timeout > 0 && (d.Latency != c.timeout || d.Served.Code != 0) {
			t.Errorf("%s: latency %v, the cut attempt %+v", c.name, d.Latency, d.Served)
		}
		// Envoy retries on another host while there is one.
		if len(d.Retries) == 1 && d.Retries[0].Pod == d.Served.Pod {
			t.Errorf("%s: retried on the same pod", c.name)
		}
	}
}

func TestDestinationRuleLookupOrder(t *testing.T) {
	// The client's namespace has its own rule for web, whose "canary" is the primary pods.
	m := shopMesh(splitVS(0, 100))
	m.DestinationRules = append(m.DestinationRules, newDR("client", "web", "web.shop.svc.cluster.local", subsetOf("canary", "role", "primary")))
	ix := NewIndex(m)
	if d := ix.Route(Request{Namespace: "client", Host: "web.shop", Rand: seeded()}); d.Served.Workload != "web-primary" {
		t.Errorf("from client: %+v", d.Served)
	}
	if d := ix.Route(Request{Namespace: "third", Host: "web.shop", Rand: seeded()}); d.Served.Workload != "web-canary" {
		t.Errorf("from third: %+v", d.Served)
	}
	// A rule in the root namespace is the last resort.
	m = shopMesh(splitVS(0, 100))
	m.DestinationRules = []*networkingv1.DestinationRule{newDR("istio-system", "web", "web.shop.svc.cluster.local", subsetOf("canary", "role", "canary"))}
	if d := NewIndex(m).Route(Request{Namespace: "shop", Host: "web", Rand: seeded()}); d.Served == nil || d.Served.Workload != "web-canary" {
		t.Errorf("root rule: %+v", d)
	}
	// A rule exported only to its own namespace is invisible elsewhere.
	m = shopMesh(newVS("client", "web", []string{"web.shop.svc.cluster.local"}, route("r", nil, to("web.shop.svc.cluster.local", "canary", 0))))
	m.DestinationRules[0].Spec.ExportTo = []string{"."}
	if d := NewIndex(m).Route(Request{Namespace: "client", Host: "web.shop", Rand: seeded()}); d.Code != 503 || d.Flags != FlagNoClusterFound {
		t.Errorf("private rule: %+v", d)
	}
}

func TestDestinationRulesOfOneHostMerge(t *testing.T) {
	m := shopMesh(splitVS(0, 100))
	m.DestinationRules = []*networkingv1.DestinationRule{
		newDR("shop", "web-primary", "web", subsetOf("primary", "role", "primary")),
		newDR("shop", "web-canary", "web", subsetOf("canary", "role", "canary")),
	}
	if d := NewIndex(m).Route(Request{Namespace: "shop", Host: "web", Rand: seeded()}); d.Served == nil || d.Served.Workload != "web-canary" {
		t.Errorf("got %+v", d)
	}
}

func TestConflictingVirtualServices(t *testing.T) {
	older := newVS("shop", "older", []string{"web"}, route("older", nil, to("web", "primary", 0)))
	newer := newVS("shop", "newer", []string{"web"}, route("newer", nil, to("web", "canary", 0)))
	newer.CreationTimestamp = metav1.NewTime(older.CreationTimestamp.Add(time.Minute))
	if d := NewIndex(shopMesh(newer, older)).Route(Request{Namespace: "shop", Host: "web", Rand: seeded()}); d.Route != "older" {
		t.Errorf("the oldest should win: %q", d.Route)
	}
	// One private to the client's namespace comes before the public one, however old.
	private := newVS("client", "private", []string{"web.shop.svc.cluster.local"}, route("private", nil, to("web.shop.svc.cluster.local", "canary", 0)))
	private.CreationTimestamp = newer.CreationTimestamp
	private.Spec.ExportTo = []string{"."}
	ix := NewIndex(shopMesh(older, private))
	if d := ix.Route(Request{Namespace: "client", Host: "web.shop", Rand: seeded()}); d.Route != "private" {
		t.Errorf("client: %q", d.Route)
	}
	if d := ix.Route(Request{Namespace: "shop", Host: "web", Rand: seeded()}); d.Route != "older" {
		t.Errorf("shop: %q", d.Route)
	}
}

func TestDelegation(t *testing.T) {
	parent := newVS("shop", "web", []string{"web"},
		&istioapiv1.HTTPRoute{Name: "to-api", Match: []*istioapiv1.HTTPMatchRequest{{Uri: prefix("/api")}}, Delegate: &istioapiv1.Delegate{Name: "api", Namespace: "team"}},
		route("rest", nil, to("web", "primary", 0)))
	child := newVS("team", "api", nil,
		route("api-v2", []*istioapiv1.HTTPMatchRequest{{Uri: prefix("/api/v2")}}, to("web.shop.svc.cluster.local", "canary", 0)))
	ix := NewIndex(shopMesh(parent, child))
	cases := []struct{ path, route, workload string }{
		{"/api/v2/x", "api-v2", "web-canary"},
		{"/api/v1/x", "rest", "web-primary"}, // no child route matches: on to the parent's next
		{"/", "rest", "web-primary"},
	}
	for _, c := range cases {
		d := ix.Route(Request{Namespace: "shop", Host: "web", Path: c.path, Rand: seeded()})
		if d.Route != c.route || d.Served == nil || d.Served.Workload != c.workload {
			t.Errorf("%s: %+v", c.path, d)
		}
	}
}

func TestLocalAnswers(t *testing.T) {
	redirect := &istioapiv1.HTTPRoute{Name: "moved", Redirect: &istioapiv1.HTTPRedirect{Uri: "/new"}}
	direct := &istioapiv1.HTTPRoute{Name: "teapot", DirectResponse: &istioapiv1.HTTPDirectResponse{Status: 418}}
	for want, r := range map[int]*istioapiv1.HTTPRoute{301: redirect, 418: direct} {
		d := NewIndex(shopMesh(newVS("shop", "web", []string{"web"}, r))).Route(Request{Namespace: "shop", Host: "web", Rand: seeded()})
		if d.Code != want || d.Served != nil {
			t.Errorf("%s: %+v", r.Name, d)
		}
	}
}

func TestRoutingIsReproducibleWithASeed(t *testing.T) {
	ix := NewIndex(shopMesh(splitVS(50, 50)))
	a, b := seeded(), seeded()
	for range 100 {
		da := ix.Route(Request{Namespace: "shop", Host: "web", Rand: a})
		db := ix.Route(Request{Namespace: "shop", Host: "web", Rand: b})
		if da.Served.Pod != db.Served.Pod || da.Latency != db.Latency {
			t.Fatal("same seed, different outcomes")
		}
	}
}

func TestAnIndexRoutesConcurrently(t *testing.T) {
	r := route("split", []*istioapiv1.HTTPMatchRequest{{QueryParams: map[string]*istioapiv1.StringMatch{"v": exact("2")}}}, to("web", "canary", 0))
	r.Mirror = &istioapiv1.Destination{Host: "web", Subset: "primary"}
	ix := NewIndex(shopMesh(newVS("shop", "web", []string{"web"}, r, route("rest", nil, to("web", "primary", 0)))))
	done := make(chan map[string]int)
	for g := range 4 {
		go func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			counts := map[string]int{}
			for range 2000 {
				counts[ix.Route(Request{Namespace: "shop", Host: "web", Path: "/?v=2", Rand: rng}).Route]++
			}
			done <- counts
		}()
	}
	for range 4 {
		if counts := <-done; counts["split"] != 2000 {
			t.Errorf("counts %v", counts)
		}
	}
}
