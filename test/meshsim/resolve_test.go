package meshsim

import (
	"net/http"
	"testing"

	istioapiv1 "istio.io/api/networking/v1"

	"fledge.dev/fledge/test/istioxds"
)

func TestResolveSaysWhereRequestsGoWithoutSendingThem(t *testing.T) {
	ab := route("ab", []*istioapiv1.HTTPMatchRequest{{Headers: map[string]*istioapiv1.StringMatch{"x-canary": exact("insider")}}}, to("web", "canary", 0))
	split := route("split", nil, to("web", "primary", 80), to("web", "canary", 20))
	split.Mirror, split.MirrorPercentage = &istioapiv1.Destination{Host: "web", Subset: "canary"}, percent(50)
	ix := NewIndex(shopMesh(newVS("shop", "web", []string{"web"}, ab, split)))
	const fqdn = "web.shop.svc.cluster.local"
	for _, tc := range []struct {
		story string
		req   Request
		want  istioxds.Resolution
	}{
		{"the header's requests take the A/B route to the canary alone",
			Request{Namespace: "shop", Host: "web", Headers: http.Header{"X-Canary": {"insider"}}},
			istioxds.Resolution{Found: true, Route: "ab", Shares: map[string]int{"canary|" + fqdn: 100}, Retries: 2}},
		{"the others are split 80/20, half of them mirrored to the canary",
			Request{Namespace: "shop", Host: "web"},
			istioxds.Resolution{Found: true, Route: "split", Shares: map[string]int{"primary|" + fqdn: 80, "canary|" + fqdn: 20}, Mirrors: map[string]float64{"canary|" + fqdn: 50}, Retries: 2}},
	} {
		if got := ix.Resolve(tc.req); !got.Equal(tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.story, got, tc.want)
		}
	}

	// Without a VirtualService a sidecar takes istiod's route "default" to the Service.
	got := NewIndex(shopMesh()).Resolve(Request{Namespace: "shop", Host: "web"})
	if want := (istioxds.Resolution{Found: true, Route: "default", Shares: map[string]int{"|" + fqdn: 100}, Retries: 2}); !got.Equal(want) {
		t.Errorf("without a VirtualService: got %+v, want %+v", got, want)
	}
	if got := ix.Resolve(Request{Namespace: "shop", Host: "nowhere"}); got.Found {
		t.Errorf("a host the mesh does not know has no route: %+v", got)
	}
}
