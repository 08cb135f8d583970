package meshsim

import (
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// Request is one synthetic request.
type Request struct {
	// Namespace is the client's namespace: short hosts resolve in it and exportTo is judged
	// from it.
	Namespace string
	// Host is the Host header: "web", "web.shop", "web.shop.svc.cluster.local", an external
	// name; a port is ignored.
	Host string
	// Path is the request path, with its query string if any.
	Path string
	// Method defaults to GET.
	Method  string
	Headers http.Header
	// SourceLabels are the calling workload's labels, for sourceLabels matches.
	SourceLabels map[string]string
	// Gateway is the "namespace/name" of the gateway the request enters through; "" (or
	// "mesh") for sidecar traffic.
	Gateway string
	// Port is the destination port, for port matches; 0 leaves them unchecked.
	Port uint32
	// Rand draws every random choice; nil uses math/rand/v2's global source.
	Rand *rand.Rand

	// from is the pod making the request, for the calls pods make on the way.
	from *endpoint
}

// httpRoute is an HTTPRoute compiled for routing.
type httpRoute struct {
	name         string
	matches      []*matchRequest // empty matches everything
	destinations []weightedDestination
	totalWeight  int
	mirrors      []mirror
	delay        *delayFault
	abort        *abortFault
	timeout      time.Duration // 0: none, Istio's default
	retry        retryPolicy
	localStatus  int               // a redirect or direct response answers with this, reaching no pod
	setResponse  map[string]string // response headers the route sets (headers.response.set)
	delegateRef  string
	delegate     *virtualService
	// envoy is the sidecar configuration the route was read from; nil for the simulator's own
	// reading of a VirtualService.
	envoy *EnvoyConfig
}

// destination is a host and subset, and istiod's cluster for them when read from Envoy's
// configuration.
type destination struct{ host, subset, cluster string }

type weightedDestination struct {
	destination
	weight int
	// setResponse are the response headers the destination sets (headers.response.set).
	setResponse map[string]string
}

type mirror struct {
	destination
	percent float64
}

type delayFault struct {
	delay   time.Duration
	percent float64
}

type abortFault struct {
	status  int
	percent float64
}

// Route sends req through the mesh as an Istio proxy would and draws its outcome.
func (ix *Index) Route(req Request) Decision {
	return ix.route(req, sourceOf(req.Rand), 0)
}

// maxCallDepth bounds chains of calls between versions (and cycles).
const maxCallDepth = 3

func (ix *Index) route(req Request, rng source, depth int) Decision {
	view := newRequestView(&req)
	if ix.envoy != nil && view.gateway == meshGateway {
		routeName := ix.routeName(ix.requestHost(req.Host, req.Namespace, view.gateway), req.Port)
		config := ix.envoy.For(proxyOf(&req), routeName)
		ix.envoy.Routed(config != nil)
		if config != nil {
			return ix.routeByEnvoy(config, routeName, req, rng, depth)
		}
	}
	host := ix.requestHost(req.Host, req.Namespace, view.gateway)
	vs := ix.virtualServiceFor(host, req.Namespace, view.gateway)
	if vs == nil {
		// Without a VirtualService a sidecar sends to the Service itself; a gateway has no route.
		svc := ix.services[host]
		if svc == nil || view.gateway != meshGateway {
			return ix.unroutable(view.gateway)
		}
		return ix.forward(req.Namespace, rng, svc.fallback, Decision{}, depth)
	}
	d := Decision{VirtualService: vs.key}
	route := vs.firstMatch(&view)
	if route == nil {
		// Istio adds no catch-all after a VirtualService's routes: Envoy answers 404.
		d.Code = http.StatusNotFound
		d.flag(FlagNoRoute)
		return d
	}
	d.Route = route.name
	return ix.forward(req.Namespace, rng, route, d, depth)
}

func (ix *Index) unroutable(gateway string) Decision {
	if gateway != meshGateway {
		return Decision{Code: http.StatusNotFound, Flags: FlagNoRoute}
	}
	return Decision{Code: http.StatusServiceUnavailable, Flags: FlagNoClusterFound}
}

// requestHost is the canonical host a request is for. Sidecars know the Kubernetes short
// forms; a gateway matches the Host header as it is.
func (ix *Index) requestHost(host, namespace, gateway string) string {
	if gateway != meshGateway {
		return strings.ToLower(stripPort(host))
	}
	return canonicalHost(host, namespace, ix.twoLabelNames)
}

// forward runs a matched route: fault injection, the weighted pick of a destination, the
// attempts (with retries and timeouts), and the mirrors.
func (ix *Index) forward(clientNamespace string, rng source, route *httpRoute, d Decision, depth int) Decision {
	// Envoy's fault filter runs before the router: a delay holds the request, then an abort
	// answers it without reaching any pod.
	var delay time.Duration
	if route.delay != nil && hit(rng, route.delay.percent) {
		delay = route.delay.delay
		d.flag(FlagDelayInjected)
	}
	if route.abort != nil && hit(rng, route.abort.percent) {
		d.Code, d.Latency = route.abort.status, delay
		d.flag(FlagFaultInjected)
		return d
	}
	if route.localStatus != 0 {
		d.Code, d.Latency = route.localStatus, delay
		return d
	}
	picked, ok := route.pick(rng)
	dest := picked.destination
	d.ResponseHeaders = mergeHeaders(route.setResponse, picked.setResponse)
	if !ok {
		d.Code, d.Latency = http.StatusServiceUnavailable, delay
		d.flag(FlagNoRoute)
		return d
	}
	svc, endpoints, flag := ix.endpointsFor(route, dest, clientNamespace)
	if flag == "" && len(endpoints) == 0 {
		flag = FlagNoHealthyUpstream
	}
	if flag != "" {
		d.Code, d.Latency = http.StatusServiceUnavailable, delay
		d.flag(flag)
		return d
	}
	elapsed := ix.attempt(rng, route, svc, endpoints, &d, depth)
	d.Latency = delay + elapsed
	// Envoy shadows a request once its router has an upstream for it; answers are discarded.
	for _, m := range route.mirrors {
		if !hit(rng, m.percent) {
			continue
		}
		msvc, eps, flag := ix.endpointsFor(route, m.destination, clientNamespace)
		if flag != "" || len(eps) == 0 {
			continue
		}
		s := ix.serveBy(eps[rng.IntN(len(eps))], msvc, rng, depth, &d)
		// A shadow request has the route's timeout too.
		if route.timeout > 0 && s.Latency > route.timeout {
			s.Code, s.Latency = 0, route.timeout
		}
		d.Mirrored = append(d.Mirrored, s)
	}
	return d
}

// attempt sends the request to endpoints until an answer is not retried, and returns the time
// the router spent. Each attempt is one Serve.
func (ix *Index) attempt(rng source, route *httpRoute, svc *service, endpoints []*endpoint, d *Decision, depth int) time.Duration {
	p := route.retry
	var elapsed time.Duration
	var tried []*endpoint
	for n := 0; ; n++ {
		e := pickEndpoint(endpoints, tried, p.ignorePreviousHosts, rng)
		s := ix.serveBy(e, svc, rng, depth, d)
		answer, timedOut := s.Code, false
		if p.perTryTimeout > 0 && s.Latency > p.perTryTimeout {
			// The client's proxy gives up on this attempt; the pod's proxy sees a reset.
			s.Code, s.Latency = 0, p.perTryTimeout
			answer, timedOut = http.StatusGatewayTimeout, true
		}
		if route.timeout > 0 && elapsed+s.Latency > route.timeout {
			s.Code, s.Latency = 0, route.timeout-elapsed
			return ix.timedOut(route, s, d)
		}
		elapsed += s.Latency
		if n < p.retries && p.retriable(answer, timedOut) {
			backoff := p.backoffBefore(n+1, rng)
			if route.timeout > 0 && elapsed+backoff >= route.timeout {
				return ix.timedOut(route, s, d)
			}
			d.Retries = append(d.Retries, s)
			tried = append(tried, e)
			elapsed += backoff
			continue
		}
		d.Served, d.Code = &s, answer
		if timedOut {
			d.flag(FlagUpstreamTimeout)
		}
		return elapsed
	}
}

// timedOut ends a request at the route's timeout: the client gets 504, last is the attempt
// that was in flight (or had just ended) then.
func (ix *Index) timedOut(route *httpRoute, last Serve, d *Decision) time.Duration {
	d.Served, d.Code = &last, http.StatusGatewayTimeout
	d.flag(FlagUpstreamTimeout)
	return route.timeout
}

// serveBy is one request answered by a pod: its own behaviour, and the calls it makes on the
// way, through the mesh as that pod (so routes with sourceLabels apply to them), kept in d.
func (ix *Index) serveBy(e *endpoint, svc *service, rng source, depth int, d *Decision) Serve {
	code, latency := e.behaviour.draw(rng)
	if depth < maxCallDepth {
		for _, host := range e.behaviour.Calls {
			call := ix.route(Request{Namespace: e.namespace, Host: host, SourceLabels: e.labels, from: e}, rng, depth+1)
			d.Calls = append(d.Calls, call)
			failed := call.Code >= 500 || call.Code == 0
			switch {
			case e.behaviour.ToleratesFailures && (failed || call.Latency > CallTimeout):
				latency += min(call.Latency, CallTimeout) // gave up on it and answered from a fallback
			case failed:
				code, latency = http.StatusInternalServerError, latency+call.Latency
			default:
				latency += call.Latency
			}
		}
	}
	return Serve{Namespace: e.namespace, Workload: e.workload, Pod: e.pod, Service: svc.fqdn, Code: code, Latency: latency}
}

// pick draws a destination by weight, as Envoy's weighted clusters do.
func (r *httpRoute) pick(rng source) (weightedDestination, bool) {
	switch {
	case r.totalWeight <= 0:
		return weightedDestination{}, false
	case len(r.destinations) == 1:
		return r.destinations[0], true
	}
	n := rng.IntN(r.totalWeight)
	for _, d := range r.destinations {
		if n < d.weight {
			return d, true
		}
		n -= d.weight
	}
	return r.destinations[len(r.destinations)-1], true
}

// endpointsFor resolves a route's destination: through the clusters of the sidecar
// configuration the route came from, else through the simulator's own reading.
func (ix *Index) endpointsFor(route *httpRoute, d destination, clientNamespace string) (*service, []*endpoint, string) {
	if route.envoy != nil {
		return ix.clusterEndpoints(route.envoy, d)
	}
	return ix.endpointsOf(d, clientNamespace)
}

// endpointsOf resolves a destination to its Service and ready endpoints, through the subset
// of the DestinationRule the client would use. A missing host or subset is Envoy's "no
// cluster"; no ready endpoint is left to the caller.
func (ix *Index) endpointsOf(d destination, clientNamespace string) (*service, []*endpoint, string) {
	svc := ix.services[d.host]
	if svc == nil {
		return nil, nil, FlagNoClusterFound
	}
	if d.subset == "" {
		return svc, svc.endpoints, ""
	}
	dr := ix.destinationRuleFor(d.host, clientNamespace, svc.namespace)
	if dr == nil || dr.subsets[d.subset] == nil {
		return svc, nil, FlagNoClusterFound
	}
	return svc, svc.subsetEndpoints[dr.subsets[d.subset]], ""
}

// pickEndpoint chooses uniformly, avoiding the endpoints already tried when Envoy's
// previous-hosts predicate is on and another one is left.
func pickEndpoint(endpoints, tried []*endpoint, avoidTried bool, rng source) *endpoint {
	if !avoidTried || len(tried) == 0 {
		return endpoints[rng.IntN(len(endpoints))]
	}
	fresh := 0
	for _, e := range endpoints {
		if !containsEndpoint(tried, e) {
			fresh++
		}
	}
	if fresh == 0 {
		return endpoints[rng.IntN(len(endpoints))]
	}
	k := rng.IntN(fresh)
	for _, e := range endpoints {
		if !containsEndpoint(tried, e) {
			if k == 0 {
				return e
			}
			k--
		}
	}
	return endpoints[0]
}

func containsEndpoint(list []*endpoint, e *endpoint) bool {
	for _, x := range list {
		if x == e {
			return true
		}
	}
	return false
}

// hit draws whether a request falls in a percentage (0..100).
func hit(rng source, percent float64) bool {
	switch {
	case percent <= 0:
		return false
	case percent >= 100:
		return true
	}
	return rng.Float64()*100 < percent
}

// mergeHeaders is route-level headers overlaid with the destination's, as Envoy applies them.
func mergeHeaders(route, destination map[string]string) map[string]string {
	if len(route) == 0 && len(destination) == 0 {
		return nil
	}
	out := make(map[string]string, len(route)+len(destination))
	for k, v := range route {
		out[k] = v
	}
	for k, v := range destination {
		out[k] = v
	}
	return out
}
