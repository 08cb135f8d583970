package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/test/istioxds"
	"fledge.dev/fledge/test/meshsim"
)

// compareRoutes holds the simulator to Istio: for a plain request and one per A/B match and
// tester, the route the simulator takes and the split of its destinations must be those of
// the routes istiod sends a sidecar of the Canary's namespace. Both follow the cluster with a
// small delay, so they are given a while to agree.
func (a *istioAnalysis) compareRoutes(ctx context.Context, canary *fledgev1alpha1.Canary, when string) {
	host := canary.Spec.Service.Name
	if host == "" {
		host = canary.Spec.TargetRef.Name
	}
	requests := []http.Header{{}}
	for _, m := range append(append([]fledgev1alpha1.HTTPMatch(nil), canary.Spec.Analysis.Match...), canary.Spec.Analysis.Testers...) {
		if h, ok := headersMatching(m); ok {
			requests = append(requests, h)
		}
	}
	if canary.Spec.Service.Port == 0 {
		return // on existing subsets the port is the user's Service's; none of these specs has one
	}
	proxy := istioxds.Proxy{Namespace: canary.Namespace, IP: "127.0.0.2"}
	var last string
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		rc, err := istioxds.Routes(ctx, stack.IstiodXDSAddress, proxy, uint32(canary.Spec.Service.Port))
		if err != nil {
			last = err.Error()
		} else {
			last = ""
			for _, headers := range requests {
				fromIstio := istioxds.Resolve(rc, istioxds.Request{Host: host, Path: "/", Headers: headers})
				fromSim := mesh.Resolve(meshsim.Request{Namespace: canary.Namespace, Host: host, Path: "/", Headers: headers})
				if !fromIstio.Equal(fromSim) {
					last = fmt.Sprintf("for a request with headers %v, Istio routes %+v and the simulator %+v", headers, fromIstio, fromSim)
					break
				}
			}
			if last == "" {
				a.mu.Lock()
				a.compared++
				a.mu.Unlock()
				return
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	if ctx.Err() == nil {
		a.record(when + ": the simulator does not route as istiod's configuration does: " + last)
	}
}

// headersMatching is a request that matches m by its headers alone, when one can be written
// without guessing (exact or prefix, no regex, no uri or query parameters).
func headersMatching(m fledgev1alpha1.HTTPMatch) (http.Header, bool) {
	if m.URI != nil || len(m.QueryParams) > 0 || len(m.Headers) == 0 {
		return nil, false
	}
	h := http.Header{}
	for name, sm := range m.Headers {
		switch {
		case sm.Exact != nil:
			h.Set(name, *sm.Exact)
		case sm.Prefix != nil:
			h.Set(name, *sm.Prefix+"-x")
		default:
			return nil, false
		}
	}
	return h, true
}
