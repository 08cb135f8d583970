package meshsim

import (
	"net/http"
	"testing"

	istioapiv1 "istio.io/api/networking/v1"
)

// routeTaken routes req through a VirtualService whose first route ("matched") has the match
// list ms and whose second ("default") takes the rest.
func routeTaken(t *testing.T, ms []*istioapiv1.HTTPMatchRequest, req Request) string {
	t.Helper()
	vs := newVS("shop", "web", []string{"web"},
		route("matched", ms, to("web", "canary", 0)),
		route("default", nil, to("web", "primary", 0)))
	if req.Namespace == "" {
		req.Namespace = "shop"
	}
	if req.Host == "" {
		req.Host = "web"
	}
	req.Rand = seeded()
	d := NewIndex(shopMesh(vs)).Route(req)
	if d.Code != 200 {
		t.Fatalf("code %d, flags %q", d.Code, d.Flags)
	}
	return d.Route
}

func headers(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestMatchConditions(t *testing.T) {
	one := func(m *istioapiv1.HTTPMatchRequest) []*istioapiv1.HTTPMatchRequest {
		return []*istioapiv1.HTTPMatchRequest{m}
	}
	byHeader := func(name string, sm *istioapiv1.StringMatch) []*istioapiv1.HTTPMatchRequest {
		return one(&istioapiv1.HTTPMatchRequest{Headers: map[string]*istioapiv1.StringMatch{name: sm}})
	}
	withoutHeader := func(name string, sm *istioapiv1.StringMatch) []*istioapiv1.HTTPMatchRequest {
		return one(&istioapiv1.HTTPMatchRequest{WithoutHeaders: map[string]*istioapiv1.StringMatch{name: sm}})
	}
	byURI := func(sm *istioapiv1.StringMatch) []*istioapiv1.HTTPMatchRequest {
		return one(&istioapiv1.HTTPMatchRequest{Uri: sm})
	}
	byQuery := func(name string, sm *istioapiv1.StringMatch) []*istioapiv1.HTTPMatchRequest {
		return one(&istioapiv1.HTTPMatchRequest{QueryParams: map[string]*istioapiv1.StringMatch{name: sm}})
	}
	// The documented way to match a cookie: a regex over the cookie header.
	userJason := byHeader("cookie", regex(`^(.*?;\s*)?(user=jason)(;.*)?$`))

	cases := []struct {
		name  string
		match []*istioapiv1.HTTPMatchRequest
		req   Request
		want  bool
	}{
		{"no match list matches everything", nil, Request{}, true},
		{"header exact", byHeader("x-user", exact("jason")), Request{Headers: headers("X-User", "jason")}, true},
		{"header exact is case-sensitive in the value", byHeader("x-user", exact("jason")), Request{Headers: headers("x-user", "Jason")}, false},
		{"header exact is whole", byHeader("x-user", exact("jason")), Request{Headers: headers("x-user", "jasonx")}, false},
		{"header absent", byHeader("x-user", exact("jason")), Request{}, false},
		{"header names are case-insensitive", byHeader("x-user", exact("jason")), Request{Headers: http.Header{"x-user": {"jason"}}}, true},
		{"header prefix", byHeader("x-user", prefix("ja")), Request{Headers: headers("x-user", "jason")}, true},
		{"header prefix misses", byHeader("x-user", prefix("jo")), Request{Headers: headers("x-user", "jason")}, false},
		{"header regex is a full match", byHeader("x-version", regex("v[0-9]")), Request{Headers: headers("x-version", "v12")}, false},
		{"header regex", byHeader("x-version", regex("v[0-9]+")), Request{Headers: headers("x-version", "v12")}, true},
		{"header presence with an empty match", byHeader("x-canary", &istioapiv1.StringMatch{}), Request{Headers: headers("x-canary", "")}, true},
		{"header presence with an empty prefix", byHeader("x-canary", prefix("")), Request{Headers: headers("x-canary", "anything")}, true},
		{"header presence misses an absent header", byHeader("x-canary", &istioapiv1.StringMatch{}), Request{}, false},
		{"header values are joined by commas", byHeader("x-tags", exact("a,b")), Request{Headers: headers("x-tags", "a", "x-tags", "b")}, true},
		{"cookie through the cookie header", userJason, Request{Headers: headers("cookie", "session=1; user=jason; theme=dark")}, true},
		{"cookie first in the header", userJason, Request{Headers: headers("cookie", "user=jason")}, true},
		{"cookie of another user", userJason, Request{Headers: headers("cookie", "user=jasonx; session=1")}, false},
		{"cookies of several headers are joined like Envoy's", userJason, Request{Headers: headers("cookie", "session=1", "cookie", "user=jason")}, true},
		{"withoutHeaders: present and different", withoutHeader("x-user", exact("jason")), Request{Headers: headers("x-user", "mark")}, true},
		{"withoutHeaders: present and equal", withoutHeader("x-user", exact("jason")), Request{Headers: headers("x-user", "jason")}, false},
		{"withoutHeaders: absent fails a value match, as in Istio", withoutHeader("x-user", exact("jason")), Request{}, false},
		{"withoutHeaders: absent passes a presence match", withoutHeader("x-user", &istioapiv1.StringMatch{}), Request{}, true},
		{"withoutHeaders: present fails a presence match", withoutHeader("x-user", &istioapiv1.StringMatch{}), Request{Headers: headers("x-user", "a")}, false},
		{"uri exact", byURI(exact("/api")), Request{Path: "/api"}, true},
		{"uri exact is whole", byURI(exact("/api")), Request{Path: "/api/v1"}, false},
		{"uri exact ignores the query string", byURI(exact("/api")), Request{Path: "/api?x=1"}, true},
		{"uri prefix is a string prefix", byURI(prefix("/api")), Request{Path: "/apiary"}, true},
		{"uri prefix misses", byURI(prefix("/api")), Request{Path: "/static/api"}, false},
		{"uri regex", byURI(regex(`/users/[0-9]+`)), Request{Path: "/users/42"}, true},
		{"uri regex is a full match", byURI(regex(`/users/[0-9]+`)), Request{Path: "/users/42/orders"}, false},
		{"uri is case-sensitive", byURI(exact("/API")), Request{Path: "/api"}, false},
		{"ignoreUriCase on exact", one(&istioapiv1.HTTPMatchRequest{Uri: exact("/API"), IgnoreUriCase: true}), Request{Path: "/api"}, true},
		{"ignoreUriCase on prefix", one(&istioapiv1.HTTPMatchRequest{Uri: prefix("/API"), IgnoreUriCase: true}), Request{Path: "/Api/x"}, true},
		{"ignoreUriCase leaves regex alone", one(&istioapiv1.HTTPMatchRequest{Uri: regex("/API"), IgnoreUriCase: true}), Request{Path: "/api"}, false},
		{"query exact", byQuery("v", exact("2")), Request{Path: "/?a=1&v=2"}, true},
		{"query exact misses", byQuery("v", exact("2")), Request{Path: "/?v=3"}, false},
		{"query absent", byQuery("v", exact("2")), Request{Path: "/?a=2"}, false},
		{"query key without a value matches an empty exact", byQuery("debug", exact("")), Request{Path: "/?debug"}, true},
		{"query regex is a full match", byQuery("id", regex(`\d+`)), Request{Path: "/?id=123a"}, false},
		{"query regex", byQuery("id", regex(`\d+`)), Request{Path: "/?id=123"}, true},
		{"query takes the first value", byQuery("v", exact("1")), Request{Path: "/?v=1&v=2"}, true},
		{"method", one(&istioapiv1.HTTPMatchRequest{Method: exact("POST")}), Request{Method: "POST"}, true},
		{"method defaults to GET", one(&istioapiv1.HTTPMatchRequest{Method: exact("POST")}), Request{}, false},
		{"sourceLabels subset", one(&istioapiv1.HTTPMatchRequest{SourceLabels: labels("app", "checkout")}), Request{SourceLabels: labels("app", "checkout", "version", "v2")}, true},
		{"sourceLabels mismatch", one(&istioapiv1.HTTPMatchRequest{SourceLabels: labels("app", "checkout", "version", "v1")}), Request{SourceLabels: labels("app", "checkout", "version", "v2")}, false},
		{"sourceLabels without labels", one(&istioapiv1.HTTPMatchRequest{SourceLabels: labels("app", "checkout")}), Request{}, false},
		{"sourceNamespace", one(&istioapiv1.HTTPMatchRequest{SourceNamespace: "other"}), Request{Namespace: "other", Host: "web.shop"}, true},
		{"sourceNamespace mismatch", one(&istioapiv1.HTTPMatchRequest{SourceNamespace: "other"}), Request{}, false},
		{"all conditions of a match must hold", one(&istioapiv1.HTTPMatchRequest{Uri: prefix("/api"), Headers: map[string]*istioapiv1.StringMatch{"x-user": exact("jason")}}), Request{Path: "/api", Headers: headers("x-user", "mark")}, false},
		{"all conditions of a match hold", one(&istioapiv1.HTTPMatchRequest{Uri: prefix("/api"), Headers: map[string]*istioapiv1.StringMatch{"x-user": exact("jason")}}), Request{Path: "/api/x", Headers: headers("x-user", "jason")}, true},
		{"any match of the list", []*istioapiv1.HTTPMatchRequest{{Uri: prefix("/api")}, {Headers: map[string]*istioapiv1.StringMatch{"x-user": exact("jason")}}}, Request{Path: "/", Headers: headers("x-user", "jason")}, true},
		{"none of the list", []*istioapiv1.HTTPMatchRequest{{Uri: prefix("/api")}, {Headers: map[string]*istioapiv1.StringMatch{"x-user": exact("jason")}}}, Request{Path: "/"}, false},
		{"port", one(&istioapiv1.HTTPMatchRequest{Port: 8080}), Request{Port: 9090}, false},
		{"an invalid regex matches nothing", byURI(regex("(")), Request{Path: "("}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := routeTaken(t, c.match, c.req) == "matched"
			if got != c.want {
				t.Errorf("matched %v, want %v", got, c.want)
			}
		})
	}
}

func TestFirstMatchingRouteWins(t *testing.T) {
	vs := newVS("shop", "web", []string{"web"},
		route("api", []*istioapiv1.HTTPMatchRequest{{Uri: prefix("/api")}}, to("web", "canary", 0)),
		route("api-v1", []*istioapiv1.HTTPMatchRequest{{Uri: prefix("/api/v1")}}, to("web", "primary", 0)),
		route("rest", nil, to("web", "primary", 0)))
	ix := NewIndex(shopMesh(vs))
	cases := []struct{ path, want, workload string }{
		{"/api/v1/users", "api", "web-canary"}, // the more specific route comes too late
		{"/api", "api", "web-canary"},
		{"/", "rest", "web-primary"},
	}
	for _, c := range cases {
		d := ix.Route(Request{Namespace: "shop", Host: "web", Path: c.path, Rand: seeded()})
		if d.Route != c.want || d.Served == nil || d.Served.Workload != c.workload {
			t.Errorf("%s: route %q served by %+v, want %q by %s", c.path, d.Route, d.Served, c.want, c.workload)
		}
	}
}

func TestNoMatchingRouteIsA404(t *testing.T) {
	// Istio adds no catch-all after a VirtualService's own routes: Envoy answers 404 NR.
	vs := newVS("shop", "web", []string{"web"}, route("api", []*istioapiv1.HTTPMatchRequest{{Uri: prefix("/api")}}, to("web", "canary", 0)))
	d := NewIndex(shopMesh(vs)).Route(Request{Namespace: "shop", Host: "web", Path: "/", Rand: seeded()})
	if d.Code != 404 || d.Flags != FlagNoRoute || d.Served != nil || d.VirtualService != "shop/web" {
		t.Errorf("got %+v", d)
	}
}
