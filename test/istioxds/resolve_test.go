package istioxds

import (
	"net/http"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// routes is the shape istiod gives a Canary's host at 20 % with an A/B route first.
func routes() *routev3.RouteConfiguration {
	weighted := func(primary, canary uint32) *routev3.Route_Route {
		return &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_WeightedClusters{
			WeightedClusters: &routev3.WeightedCluster{Clusters: []*routev3.WeightedCluster_ClusterWeight{
				{Name: "outbound|80|primary|web.shop.svc.cluster.local", Weight: wrapperspb.UInt32(primary)},
				{Name: "outbound|80|canary|web.shop.svc.cluster.local", Weight: wrapperspb.UInt32(canary)},
			}},
		}}}
	}
	return &routev3.RouteConfiguration{Name: "80", VirtualHosts: []*routev3.VirtualHost{
		{Name: "other:80", Domains: []string{"other.shop.svc.cluster.local", "other"}},
		{Name: "web.shop.svc.cluster.local:80", Domains: []string{"web.shop.svc.cluster.local", "web", "web:80"}, Routes: []*routev3.Route{
			{
				Name: "ab",
				Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}, Headers: []*routev3.HeaderMatcher{{
					Name: "x-canary", HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: &matcherv3.StringMatcher{
						MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "insider|qa"}},
					}},
				}}},
				Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "outbound|80|canary|web.shop.svc.cluster.local"}}},
			},
			{Name: "primary-canary", Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}}, Action: weighted(80, 20)},
		}},
		{Name: "allow_any", Domains: []string{"*"}, Routes: []*routev3.Route{{
			Name:   "allow_any",
			Match:  &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
			Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "PassthroughCluster"}}},
		}}},
	}}
}

func TestResolveReadsRoutesAsEnvoyDoes(t *testing.T) {
	for _, tc := range []struct {
		story string
		req   Request
		want  Resolution
	}{
		{"a plain request takes the weighted route", Request{Host: "web", Path: "/"},
			Resolution{Found: true, Route: "primary-canary", Shares: map[string]int{"primary|web.shop.svc.cluster.local": 80, "canary|web.shop.svc.cluster.local": 20}}},
		{"the host with its port names the same virtual host", Request{Host: "web:80", Path: "/api?x=1"},
			Resolution{Found: true, Route: "primary-canary", Shares: map[string]int{"primary|web.shop.svc.cluster.local": 80, "canary|web.shop.svc.cluster.local": 20}}},
		{"a header that matches the whole regex takes the A/B route", Request{Host: "web", Headers: http.Header{"X-Canary": {"qa"}}},
			Resolution{Found: true, Route: "ab", Shares: map[string]int{"canary|web.shop.svc.cluster.local": 100}}},
		{"safe_regex matches the whole value, not a part", Request{Host: "web", Headers: http.Header{"X-Canary": {"qa-team"}}},
			Resolution{Found: true, Route: "primary-canary", Shares: map[string]int{"primary|web.shop.svc.cluster.local": 80, "canary|web.shop.svc.cluster.local": 20}}},
		{"a host istiod does not know passes through, outside the mesh's routes", Request{Host: "elsewhere"}, Resolution{}},
		{"a virtual host without routes answers 404", Request{Host: "other"}, Resolution{}},
	} {
		got := Resolve(routes(), tc.req)
		if !got.Equal(tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.story, got, tc.want)
		}
	}
}
