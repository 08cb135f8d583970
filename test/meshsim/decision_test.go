package meshsim

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	istioapiv1 "istio.io/api/networking/v1"

	"fledge.dev/fledge/test/istiometrics"
)

// requestCounts scrapes r and returns istio_requests_total by workload and response code.
func requestCounts(t *testing.T, r *istiometrics.Recorder) map[[2]string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[[2]string]float64{}
	for _, m := range families["istio_requests_total"].GetMetric() {
		l := map[string]string{}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		if l["reporter"] != "destination" || l["destination_workload_namespace"] != "shop" || l["destination_service"] != "web.shop.svc.cluster.local" {
			t.Errorf("labels %v", l)
		}
		out[[2]string{l["destination_workload"], l["response_code"]}] += m.GetCounter().GetValue()
	}
	return out
}

func TestRecordCountsWhatReachedAPod(t *testing.T) {
	aborting := route("main", nil, to("web", "primary", 0))
	aborting.Fault = &istioapiv1.HTTPFaultInjection{Abort: &istioapiv1.HTTPFaultInjection_Abort{ErrorType: &istioapiv1.HTTPFaultInjection_Abort_HttpStatus{HttpStatus: 503}, Percentage: percent(100)}}
	mirroring := route("main", nil, to("web", "primary", 0))
	mirroring.Mirror = &istioapiv1.Destination{Host: "web", Subset: "canary"}
	timingOut := route("main", nil, to("web", "primary", 0))
	timingOut.Timeout = duration(time.Millisecond)
	cases := []struct {
		name  string
		route *istioapiv1.HTTPRoute
		want  map[[2]string]float64
	}{
		{"served", route("main", nil, to("web", "primary", 0)), map[[2]string]float64{{"web-primary", "200"}: 3}},
		{"aborted by a fault: no pod saw it", aborting, map[[2]string]float64{}},
		{"mirrored: both pods saw it", mirroring, map[[2]string]float64{{"web-primary", "200"}: 3, {"web-canary", "200"}: 3}},
		{"timed out: the pod saw a reset", timingOut, map[[2]string]float64{{"web-primary", "0"}: 3}},
	}
	for _, c := range cases {
		ix := NewIndex(shopMesh(newVS("shop", "web", []string{"web"}, c.route)))
		r := istiometrics.NewRecorder()
		rng := seeded()
		for range 3 {
			ix.Route(Request{Namespace: "shop", Host: "web", Rand: rng}).Record(r)
		}
		got := requestCounts(t, r)
		if len(got) != len(c.want) {
			t.Errorf("%s: %v", c.name, got)
		}
		for k, v := range c.want {
			if got[k] != v {
				t.Errorf("%s: %v = %v, want %v (all: %v)", c.name, k, got[k], v, got)
			}
		}
	}
}

func TestRecordCountsEveryAttempt(t *testing.T) {
	r := route("main", nil, to("web", "primary", 0))
	r.Retries = &istioapiv1.HTTPRetry{Attempts: 2, RetryOn: "5xx"}
	m := constantPods(shopMesh(newVS("shop", "web", []string{"web"}, r)), "primary", 10*time.Millisecond, "1")
	rec := istiometrics.NewRecorder()
	NewIndex(m).Route(Request{Namespace: "shop", Host: "web", Rand: seeded()}).Record(rec)
	if got := requestCounts(t, rec); got[[2]string{"web-primary", "500"}] != 3 {
		t.Errorf("got %v", got)
	}
}
