package meshsim

import "fledge.dev/fledge/test/istioxds"

// Resolution is where the simulator sends a request, drawn from nothing, in the terms of
// Istio's own translation (test/istioxds), so that the tests can hold one against the other.
type Resolution = istioxds.Resolution

// Resolve says where the simulator would send req, without sending it.
func (s *Sim) Resolve(req Request) Resolution { return s.index.Load().Resolve(req) }

// Resolve says where req would go, without drawing any outcome.
func (ix *Index) Resolve(req Request) Resolution {
	view := newRequestView(&req)
	host := ix.requestHost(req.Host, req.Namespace, view.gateway)
	var route *httpRoute
	name := ""
	if vs := ix.virtualServiceFor(host, req.Namespace, view.gateway); vs != nil {
		if route = vs.firstMatch(&view); route != nil {
			name = route.name
		}
	} else if svc := ix.services[host]; svc != nil && view.gateway == meshGateway {
		// istiod names the route it makes for a Service without a VirtualService "default".
		route, name = svc.fallback, "default"
	}
	if route == nil {
		return Resolution{}
	}
	res := Resolution{
		Found: true, Route: name, Shares: map[string]int{}, Mirrors: map[string]float64{},
		Timeout: route.timeout, Retries: route.retry.retries, PerTryTimeout: route.retry.perTryTimeout,
	}
	for _, m := range route.mirrors {
		res.Mirrors[m.subset+"|"+m.host] = m.percent
	}
	if route.delay != nil || route.abort != nil {
		res.Faults = &istioxds.Faults{}
		if d := route.delay; d != nil {
			res.Faults.Delay, res.Faults.DelayPercent = d.delay, d.percent
		}
		if a := route.abort; a != nil {
			res.Faults.AbortStatus, res.Faults.AbortPercent = a.status, a.percent
		}
	}
	if route.localStatus != 0 || route.totalWeight == 0 {
		return res
	}
	for _, d := range route.destinations {
		if d.weight > 0 {
			res.Shares[d.subset+"|"+d.host] += d.weight * 100 / route.totalWeight
		}
	}
	return res
}
