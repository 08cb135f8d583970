package router

import (
	"regexp"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	istioapiv1 "istio.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/rollout"
)

func testCanary() *fledgev1alpha1.Canary {
	return &fledgev1alpha1.Canary{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
		Spec: fledgev1alpha1.CanarySpec{
			TargetRef: fledgev1alpha1.TargetRef{Name: "web"},
			Service:   fledgev1alpha1.CanaryService{Port: 80},
		},
	}
}

func TestOwnVirtualServiceSplitsBetweenTheSubsets(t *testing.T) {
	vs := virtualServiceSpec(testCanary(), nil, routesAt(testCanary(), 60, 40), nil)
	if len(vs.Hosts) != 1 || vs.Hosts[0] != "web" || len(vs.Http) != 1 {
		t.Fatalf("got %v", vs)
	}
	got, ok := weightsOf(vs, "web", "shop", routesAt(testCanary(), 0, 0))
	if !ok || got.PrimaryWeight != 60 || got.CanaryWeight != 40 {
		t.Errorf("weights %+v", got)
	}
}

func TestAtRestOnlyThePrimaryIsRoutedAndDefined(t *testing.T) {
	// The canary's Deployment has no pods at rest: a subset selecting none is an error to
	// Istio's analyzers (IST0173), so neither the route nor the DestinationRule names it.
	rest := routesAt(testCanary(), 100, 0)
	vs := virtualServiceSpec(testCanary(), nil, rest, nil)
	if r := vs.Http[0].Route; len(r) != 1 || r[0].Destination.Subset != rollout.SubsetPrimary || r[0].Weight != 100 {
		t.Fatalf("at rest the split is %v, want all to the primary alone", r)
	}
	if got, ok := weightsOf(vs, "web", "shop", rest); !ok || !got.SameWeights(rest) {
		t.Errorf("the router cannot read back its own route at rest: %+v %v", got, ok)
	}
	if dr := destinationRuleSpec(testCanary(), nil, withCanary(rest), nil); len(dr.Subsets) != 1 || dr.Subsets[0].Name != rollout.SubsetPrimary {
		t.Errorf("at rest the DestinationRule defines %v", dr.Subsets)
	}

	// A tester's route alone, at weight 0, needs the canary.
	qa := "qa"
	canary := testCanary()
	testers := routesAt(canary, 100, 0)
	testers.Testers = []fledgev1alpha1.HTTPMatch{{Headers: map[string]fledgev1alpha1.StringMatch{"x-team": {Exact: &qa}}}}
	if !withCanary(testers) || len(destinationRuleSpec(canary, nil, withCanary(testers), nil).Subsets) != 2 {
		t.Error("testers route to the canary: its subset must be defined")
	}

	// The user's own subsets are the user's: both stay named, the candidate may hold everything.
	canary.Spec.Subsets = &fledgev1alpha1.ExistingSubsets{DestinationRule: "web", Stable: "v1", Candidate: "v2"}
	if r := virtualServiceSpec(canary, nil, routesAt(canary, 100, 0), nil).Http[0].Route; len(r) != 2 {
		t.Errorf("on the user's subsets the split is %v, want both", r)
	}
}

func TestAnABStepPutsTheMatchRouteFirst(t *testing.T) {
	canary := testCanary()
	insider := "insider"
	canary.Spec.Analysis.Match = []fledgev1alpha1.HTTPMatch{{Headers: map[string]fledgev1alpha1.StringMatch{"x-canary": {Exact: &insider}}}}
	routes := routesAt(canary, 100, 0)
	routes.Match = canary.Spec.Analysis.Match
	vs := virtualServiceSpec(canary, nil, routes, nil)
	if len(vs.Http) != 2 || vs.Http[0].Name != abRouteName {
		t.Fatalf("want the A/B route first, got %v", vs.Http)
	}
	ab := vs.Http[0]
	if ab.Match[0].Headers["x-canary"].GetExact() != "insider" || ab.Route[0].Destination.Subset != rollout.SubsetCanary || ab.Route[0].Weight != 100 {
		t.Errorf("A/B route %v", ab)
	}
	if got, ok := weightsOf(vs, "web", "shop", routes); !ok || got.PrimaryWeight != 100 {
		t.Errorf("the default route must keep everything else on the primary: %+v", got)
	}
}

func TestTakingOverKeepsWhatFledgeDoesNotManage(t *testing.T) {
	original := &istioapiv1.VirtualService{
		Hosts:    []string{"web.example.com"},
		Gateways: []string{"public"},
		Http: []*istioapiv1.HTTPRoute{
			{Name: "docs", Route: []*istioapiv1.HTTPRouteDestination{{Destination: &istioapiv1.Destination{Host: "docs"}}}},
			{Name: "web", Route: []*istioapiv1.HTTPRouteDestination{{Destination: &istioapiv1.Destination{Host: "web.shop.svc.cluster.local"}}}},
		},
	}
	before := proto.Clone(original)
	vs := virtualServiceSpec(testCanary(), original, routesAt(testCanary(), 80, 20), nil)
	if !proto.Equal(original, before) {
		t.Error("the original must not be changed")
	}
	if vs.Hosts[0] != "web.example.com" || vs.Gateways[0] != "public" || vs.Http[0].Name != "docs" || len(vs.Http[0].Route) != 1 {
		t.Errorf("the user's hosts, gateways and other routes must stay: %v", vs)
	}
	if vs.Http[1].Name != "web" || len(vs.Http[1].Route) != 2 || vs.Http[1].Route[1].Weight != 20 {
		t.Errorf("the route to the service must be split: %v", vs.Http[1])
	}
}

func TestDestinationRuleKeepsTheUsersOtherSubsetsAndPolicy(t *testing.T) {
	original := &istioapiv1.DestinationRule{
		Host:          "web",
		TrafficPolicy: &istioapiv1.TrafficPolicy{Tls: &istioapiv1.ClientTLSSettings{Mode: istioapiv1.ClientTLSSettings_ISTIO_MUTUAL}},
		Subsets:       []*istioapiv1.Subset{{Name: "legacy", Labels: map[string]string{"v": "0"}}, {Name: "primary", Labels: map[string]string{"stale": "yes"}}},
	}
	dr := destinationRuleSpec(testCanary(), original, true, nil)
	if dr.TrafficPolicy.GetTls().GetMode() != istioapiv1.ClientTLSSettings_ISTIO_MUTUAL {
		t.Error("the user's traffic policy stays when the Canary sets none")
	}
	names := []string{}
	for _, s := range dr.Subsets {
		names = append(names, s.Name)
	}
	if len(names) != 3 || names[0] != "legacy" || names[1] != "primary" || names[2] != "canary" || dr.Subsets[1].Labels["stale"] != "" {
		t.Errorf("subsets %v", dr.Subsets)
	}
}

func TestTestersRouteComesFirstAndTheSplitMirrors(t *testing.T) {
	canary := testCanary()
	qa := "qa"
	routes := routesAt(canary, 100, 0)
	routes.Testers = []fledgev1alpha1.HTTPMatch{{Headers: map[string]fledgev1alpha1.StringMatch{"x-team": {Exact: &qa}}}}
	routes.MirrorPercentage = 25
	vs := virtualServiceSpec(canary, nil, routes, nil)
	if len(vs.Http) != 2 || vs.Http[0].Name != testersRouteName || vs.Http[0].Route[0].Destination.Subset != rollout.SubsetCanary {
		t.Fatalf("want the testers' route first, to the canary: %v", vs.Http)
	}
	if vs.Http[0].Mirror != nil {
		t.Error("the testers' route must not mirror")
	}
	split := vs.Http[1]
	if split.Mirror.GetSubset() != rollout.SubsetCanary || split.MirrorPercentage.GetValue() != 25 {
		t.Errorf("the split must mirror 25%% to the canary: %v", split)
	}
}

func TestStickyUsersStayOnTheCanary(t *testing.T) {
	canary := testCanary()
	routes := routesAt(canary, 80, 20)
	routes.Sticky = &rollout.StickyCookie{Name: "fledge-canary", Value: "abc-123", MaxAge: time.Hour}
	vs := virtualServiceSpec(canary, nil, routes, nil)
	if len(vs.Http) != 2 || vs.Http[0].Name != stickyRouteName {
		t.Fatalf("want the sticky route first: %v", vs.Http)
	}
	re := vs.Http[0].Match[0].Headers["cookie"].GetRegex()
	for cookie, want := range map[string]bool{
		"fledge-canary=abc-123":           true,
		"a=b; fledge-canary=abc-123; c=d": true,
		"fledge-canary=abc-1234":          false,
		"xfledge-canary=abc-123":          false,
		"fledge-canary=old-rollout; a=b":  false,
	} {
		if got := regexp.MustCompile(re).MatchString(cookie); got != want {
			t.Errorf("cookie %q: match %v, want %v", cookie, got, want)
		}
	}
	set := vs.Http[1].Route[1].Headers.GetResponse().GetSet()["Set-Cookie"]
	if set != "fledge-canary=abc-123; Max-Age=3600; Path=/" {
		t.Errorf("the canary's answers must set the cookie, got %q", set)
	}
	if vs.Http[1].Route[0].Headers != nil {
		t.Error("the primary's answers set no cookie")
	}
}

// routesAt is the routes of canary at a weight, with nothing else.
func routesAt(canary *fledgev1alpha1.Canary, primary, canaryWeight int32) rollout.Routes {
	r := rollout.Routes{PrimarySubset: rollout.SubsetPrimary, CanarySubset: rollout.SubsetCanary, PrimaryWeight: primary, CanaryWeight: canaryWeight}
	if s := canary.Spec.Subsets; s != nil {
		r.PrimarySubset, r.CanarySubset, r.UserSubsets = s.Stable, s.Candidate, true
	}
	return r
}
