package meshsim

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"fledge.dev/fledge/test/istioxds"
)

// Proxy is the sidecar a request leaves through, as istiod knows it: the client's namespace
// and labels, and the pod when a pod of the mesh makes the call.
type Proxy struct {
	Namespace string
	Labels    map[string]string
	Pod, IP   string
}

// EnvoyConfigs gives the configuration istiod sends a proxy's sidecar. With it the Index routes
// sidecar traffic as that configuration says, the way Envoy does, instead of by its own
// reading of the VirtualServices and DestinationRules.
type EnvoyConfigs interface {
	// For is the configuration proxy's sidecar holds with route (the port's number, "80")
	// subscribed; nil while there is none yet, and the Index then reads the mesh itself.
	For(proxy Proxy, route string) *EnvoyConfig
	// Routed counts a request routed one way or the other.
	Routed(byIstiod bool)
}

// EnvoyConfig is one snapshot of a sidecar's configuration with the routes compiled once.
type EnvoyConfig struct {
	snapshot *istioxds.Snapshot
	compiled sync.Map // *routev3.Route to *httpRoute
}

// NewEnvoyConfig wraps a snapshot for routing; a snapshot is compiled as it is used.
func NewEnvoyConfig(s *istioxds.Snapshot) *EnvoyConfig { return &EnvoyConfig{snapshot: s} }

// Snapshot is the configuration the routes are read from.
func (c *EnvoyConfig) Snapshot() *istioxds.Snapshot { return c.snapshot }

func (c *EnvoyConfig) route(r *routev3.Route) *httpRoute {
	if compiled, ok := c.compiled.Load(r); ok {
		return compiled.(*httpRoute)
	}
	compiled := compileEnvoyRoute(r, c)
	c.compiled.Store(r, compiled)
	return compiled
}

// proxyOf is the sidecar req leaves through.
func proxyOf(req *Request) Proxy {
	if e := req.from; e != nil {
		return Proxy{Namespace: e.namespace, Labels: e.labels, Pod: e.pod, IP: e.ip}
	}
	return Proxy{Namespace: req.Namespace, Labels: req.SourceLabels}
}

// callers are the sidecars of the pods that call other hosts on their way, by proxyKey, and
// the routes each calls through.
func (ix *Index) callers() (map[string]Proxy, map[string][]string) {
	proxies, routes := map[string]Proxy{}, map[string][]string{}
	for _, e := range ix.endpointsByIP {
		if len(e.behaviour.Calls) == 0 {
			continue
		}
		p := Proxy{Namespace: e.namespace, Labels: e.labels, Pod: e.pod, IP: e.ip}
		key := proxyKey(p)
		proxies[key] = p
		for _, host := range e.behaviour.Calls {
			route := ix.routeName(ix.requestHost(host, e.namespace, meshGateway), 0)
			if !slices.Contains(routes[key], route) {
				routes[key] = append(routes[key], route)
			}
		}
	}
	return proxies, routes
}

// routeName is the name of the outbound route configuration Envoy reads for host: the port
// of the request, else the Service's first port, else 80.
func (ix *Index) routeName(host string, port uint32) string {
	if port == 0 {
		port = 80
		if svc := ix.services[host]; svc != nil && svc.port != 0 {
			port = svc.port
		}
	}
	return strconv.FormatUint(uint64(port), 10)
}

// routeByEnvoy is route for sidecar traffic whose proxy has istiod's configuration (with the
// route configuration routeName, which For was asked for): the
// virtual host, route and clusters Envoy would take, with the same outcome drawing as the
// simulator's own routes.
func (ix *Index) routeByEnvoy(config *EnvoyConfig, routeName string, req Request, rng source, depth int) Decision {
	rc := config.snapshot.Routes[routeName]
	if rc == nil {
		return ix.unroutable(meshGateway)
	}
	r := istioxds.Match(rc, istioxds.Request{Host: req.Host, Path: req.Path, Method: req.Method, Headers: req.Headers})
	if r == nil {
		// A VirtualService's routes without a catch-all: Envoy answers 404.
		d := Decision{Code: http.StatusNotFound}
		d.flag(FlagNoRoute)
		return d
	}
	if istioxds.Passthrough(r.GetRoute().GetCluster()) {
		return ix.unroutable(meshGateway)
	}
	d := Decision{Route: r.GetName(), VirtualService: virtualServiceOf(r)}
	if d.Route == "default" && d.VirtualService == "" {
		d.Route = "" // istiod's name for the route of a Service without a VirtualService
	}
	return ix.forward(req.Namespace, rng, config.route(r), d, depth)
}

// virtualServiceOf reads the namespace/name of the VirtualService a route came from, which
// istiod records in the route's metadata as /apis/networking.istio.io/v1/namespaces/N/virtual-service/V.
func virtualServiceOf(r *routev3.Route) string {
	config := r.GetMetadata().GetFilterMetadata()["istio"].GetFields()["config"].GetStringValue()
	parts := strings.Split(config, "/")
	for i := 0; i+3 < len(parts); i++ {
		if parts[i] == "namespaces" && parts[i+2] == "virtual-service" {
			return parts[i+1] + "/" + parts[i+3]
		}
	}
	return ""
}

// compileEnvoyRoute reads an Envoy route into the simulator's terms; its destinations name
// istiod's clusters, whose endpoints come from config.
func compileEnvoyRoute(r *routev3.Route, config *EnvoyConfig) *httpRoute {
	out := &httpRoute{name: r.GetName(), setResponse: headersSet(r.GetResponseHeadersToAdd()), envoy: config}
	if f := istioxds.FaultsOf(r); f != nil {
		if f.Delay > 0 {
			out.delay = &delayFault{f.Delay, f.DelayPercent}
		}
		if f.AbortStatus > 0 {
			out.abort = &abortFault{f.AbortStatus, f.AbortPercent}
		}
	}
	switch {
	case r.GetDirectResponse() != nil:
		out.localStatus = int(r.GetDirectResponse().GetStatus())
		return out
	case r.GetRedirect() != nil:
		out.localStatus = redirectStatus[r.GetRedirect().GetResponseCode()]
		return out
	}
	action := r.GetRoute()
	out.timeout = action.GetTimeout().AsDuration()
	out.retry = envoyRetry(action.GetRetryPolicy())
	if c := action.GetCluster(); c != "" {
		out.destinations = []weightedDestination{{destination: clusterDestination(c), weight: 1}}
		out.totalWeight = 1
	}
	for _, wc := range action.GetWeightedClusters().GetClusters() {
		if w := int(wc.GetWeight().GetValue()); w > 0 {
			out.destinations = append(out.destinations, weightedDestination{clusterDestination(wc.GetName()), w, headersSet(wc.GetResponseHeadersToAdd())})
			out.totalWeight += w
		}
	}
	for _, m := range action.GetRequestMirrorPolicies() {
		out.mirrors = append(out.mirrors, mirror{clusterDestination(m.GetCluster()), istioxds.PercentOf(m.GetRuntimeFraction().GetDefaultValue())})
	}
	return out
}

func clusterDestination(cluster string) destination {
	subset, host, _ := istioxds.ClusterDestination(cluster)
	return destination{host: host, subset: subset, cluster: cluster}
}

// redirectStatus is Envoy's RedirectResponseCode as a status.
var redirectStatus = map[routev3.RedirectAction_RedirectResponseCode]int{
	routev3.RedirectAction_MOVED_PERMANENTLY:  http.StatusMovedPermanently,
	routev3.RedirectAction_FOUND:              http.StatusFound,
	routev3.RedirectAction_SEE_OTHER:          http.StatusSeeOther,
	routev3.RedirectAction_TEMPORARY_REDIRECT: http.StatusTemporaryRedirect,
	routev3.RedirectAction_PERMANENT_REDIRECT: http.StatusPermanentRedirect,
}

// envoyRetry reads Envoy's retry policy: none means no retries; num_retries unset is 1.
func envoyRetry(p *routev3.RetryPolicy) retryPolicy {
	if p == nil {
		return retryPolicy{}
	}
	out := retryPolicy{retries: 1, on: map[string]bool{}, backoff: defaultBackoff, perTryTimeout: p.GetPerTryTimeout().AsDuration()}
	if n := p.GetNumRetries(); n != nil {
		out.retries = int(n.GetValue())
	}
	for _, c := range strings.Split(p.GetRetryOn(), ",") {
		if c = strings.TrimSpace(c); c != "" {
			out.on[c] = true
		}
	}
	for _, code := range p.GetRetriableStatusCodes() {
		out.codes = append(out.codes, int(code))
	}
	if b := p.GetRetryBackOff().GetBaseInterval(); b != nil {
		out.backoff = b.AsDuration()
	}
	for _, pred := range p.GetRetryHostPredicate() {
		if pred.GetName() == "envoy.retry_host_predicates.previous_hosts" {
			out.ignorePreviousHosts = true
		}
	}
	return out
}

// headersSet are the response headers a route or cluster sets.
func headersSet(headers []*corev3.HeaderValueOption) map[string]string {
	if len(headers) == 0 {
		return nil
	}
	out := make(map[string]string, len(headers))
	for _, h := range headers {
		out[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
	}
	return out
}

// clusterEndpoints are a cluster's endpoints as Envoy has them from istiod: its healthy
// addresses, each the pod that has it. A cluster istiod did not send is Envoy's "no cluster".
func (ix *Index) clusterEndpoints(config *EnvoyConfig, d destination) (*service, []*endpoint, string) {
	svc := ix.services[d.host]
	if svc == nil || !hasCluster(config.snapshot, d.cluster) {
		return nil, nil, FlagNoClusterFound
	}
	var out []*endpoint
	for _, ip := range config.snapshot.Endpoints[d.cluster] {
		if e := ix.endpointsByIP[ip]; e != nil {
			out = append(out, e)
		}
	}
	return svc, out, ""
}

func hasCluster(s *istioxds.Snapshot, cluster string) bool {
	_, ok := s.Clusters[cluster]
	return ok
}
