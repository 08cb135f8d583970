package router

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	istioapiv1 "istio.io/api/networking/v1"
	istioapiv1alpha3 "istio.io/api/networking/v1alpha3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/rollout"
	"fledge.dev/fledge/controllers/workload"
)

// splitRouteName names the HTTP route Fledge adds when it has none of the user's to take over.
const splitRouteName = "fledge-primary-canary"

// virtualServiceSpec is the VirtualService a canary needs. Without an original it is Fledge's
// own: the hosts and gateways of spec.service and one route split between the subsets. With
// the user's original (its exportTo too), everything is kept but the destinations of the HTTP routes that send
// to the service, which become the split; when no route does, the split route is appended.
func virtualServiceSpec(canary *fledgev1alpha1.Canary, original *istioapiv1.VirtualService, routes rollout.Routes, exportTo []string) *istioapiv1.VirtualService {
	host := ServiceName(canary)
	svc := canary.Spec.Service
	if original == nil {
		hosts := svc.Hosts
		if len(hosts) == 0 {
			hosts = []string{host}
		}
		return &istioapiv1.VirtualService{
			Hosts:    append([]string(nil), hosts...),
			Gateways: append([]string(nil), svc.Gateways...),
			Http:     append(requestRoutes(canary, routes), splitRoute(canary, routes)),
			ExportTo: exportTo,
		}
	}
	spec := proto.Clone(original).(*istioapiv1.VirtualService)
	first := -1
	for i, r := range spec.Http {
		if sendsTo(r, host, canary.Namespace) {
			r.Route = split(host, routes)
			r.Mirror, r.MirrorPercentage = mirrorOf(host, routes)
			if first < 0 {
				first = i
			}
		}
	}
	if first < 0 {
		first = len(spec.Http)
		spec.Http = append(spec.Http, splitRoute(canary, routes))
	}
	// The routes by request go above the first route that sends to the service.
	spec.Http = slices.Insert(spec.Http, first, requestRoutes(canary, routes)...)
	return spec
}

// Names of the routes that send chosen requests to the canary.
const (
	testersRouteName = "fledge-testers"
	stickyRouteName  = "fledge-sticky"
	abRouteName      = "fledge-ab"
)

// requestRoutes are the routes that send requests to the canary by what they are rather
// than by weight: the testers' first, then the A/B match.
func requestRoutes(canary *fledgev1alpha1.Canary, routes rollout.Routes) []*istioapiv1.HTTPRoute {
	var out []*istioapiv1.HTTPRoute
	for _, r := range []struct {
		name    string
		matches []fledgev1alpha1.HTTPMatch
	}{{testersRouteName, routes.Testers}, {stickyRouteName, stickyMatch(routes.Sticky)}, {abRouteName, routes.Match}} {
		if len(r.matches) == 0 {
			continue
		}
		route := splitRoute(canary, routes)
		route.Name = r.name
		route.Match = httpMatches(r.matches)
		route.Route = []*istioapiv1.HTTPRouteDestination{{Destination: &istioapiv1.Destination{Host: ServiceName(canary), Subset: routes.CanarySubset}, Weight: 100}}
		route.Mirror, route.MirrorPercentage = nil, nil
		out = append(out, route)
	}
	return out
}

// mirrorOf is the mirror of the split route: a copy of its traffic to the canary subset.
func mirrorOf(host string, routes rollout.Routes) (*istioapiv1.Destination, *istioapiv1.Percent) {
	if routes.MirrorPercentage <= 0 {
		return nil, nil
	}
	return &istioapiv1.Destination{Host: host, Subset: routes.CanarySubset}, &istioapiv1.Percent{Value: float64(routes.MirrorPercentage)}
}

func httpMatches(matches []fledgev1alpha1.HTTPMatch) []*istioapiv1.HTTPMatchRequest {
	out := make([]*istioapiv1.HTTPMatchRequest, 0, len(matches))
	for _, m := range matches {
		req := &istioapiv1.HTTPMatchRequest{Uri: stringMatch(m.URI)}
		for name, v := range m.Headers {
			if req.Headers == nil {
				req.Headers = map[string]*istioapiv1.StringMatch{}
			}
			req.Headers[name] = stringMatch(&v)
		}
		for name, v := range m.QueryParams {
			if req.QueryParams == nil {
				req.QueryParams = map[string]*istioapiv1.StringMatch{}
			}
			req.QueryParams[name] = stringMatch(&v)
		}
		out = append(out, req)
	}
	return out
}

func stringMatch(m *fledgev1alpha1.StringMatch) *istioapiv1.StringMatch {
	switch {
	case m == nil:
		return nil
	case m.Exact != nil:
		return &istioapiv1.StringMatch{MatchType: &istioapiv1.StringMatch_Exact{Exact: *m.Exact}}
	case m.Prefix != nil:
		return &istioapiv1.StringMatch{MatchType: &istioapiv1.StringMatch_Prefix{Prefix: *m.Prefix}}
	case m.Regex != nil:
		return &istioapiv1.StringMatch{MatchType: &istioapiv1.StringMatch_Regex{Regex: *m.Regex}}
	}
	return nil
}

func splitRoute(canary *fledgev1alpha1.Canary, routes rollout.Routes) *istioapiv1.HTTPRoute {
	svc := canary.Spec.Service
	route := &istioapiv1.HTTPRoute{
		Name:    splitRouteName,
		Route:   split(ServiceName(canary), routes),
		Timeout: duration(svc.Timeout),
		Headers: headers(svc.Headers),
	}
	route.Mirror, route.MirrorPercentage = mirrorOf(ServiceName(canary), routes)
	if svc.Retries != nil {
		route.Retries = &istioapiv1.HTTPRetry{
			Attempts:      svc.Retries.Attempts,
			PerTryTimeout: duration(svc.Retries.PerTryTimeout),
			RetryOn:       svc.Retries.RetryOn,
		}
	}
	return route
}

func split(host string, routes rollout.Routes) []*istioapiv1.HTTPRouteDestination {
	primary := &istioapiv1.HTTPRouteDestination{Destination: &istioapiv1.Destination{Host: host, Subset: routes.PrimarySubset}, Weight: routes.PrimaryWeight}
	if !withCanary(routes) {
		return []*istioapiv1.HTTPRouteDestination{primary}
	}
	canary := &istioapiv1.HTTPRouteDestination{Destination: &istioapiv1.Destination{Host: host, Subset: routes.CanarySubset}, Weight: routes.CanaryWeight}
	if c := routes.Sticky; c != nil {
		// Whoever the split sends to the canary gets the cookie that keeps them there.
		canary.Headers = &istioapiv1.Headers{Response: &istioapiv1.Headers_HeaderOperations{Set: map[string]string{
			"Set-Cookie": fmt.Sprintf("%s=%s; Max-Age=%d; Path=/", c.Name, c.Value, int(c.MaxAge.Seconds())),
		}}}
	}
	return []*istioapiv1.HTTPRouteDestination{primary, canary}
}

// withCanary reports whether the routes name the canary's subset: always for the user's own
// subsets (the candidate may hold all the traffic at rest), else while a rollout uses it.
func withCanary(r rollout.Routes) bool {
	return r.UserSubsets || r.UsesCanary() || r.KeepCanarySubset
}

// stickyMatch matches the requests that carry the session-affinity cookie.
func stickyMatch(c *rollout.StickyCookie) []fledgev1alpha1.HTTPMatch {
	if c == nil {
		return nil
	}
	re := fmt.Sprintf(`^(.*?;\s*)?%s=%s(;.*)?$`, regexp.QuoteMeta(c.Name), regexp.QuoteMeta(c.Value))
	return []fledgev1alpha1.HTTPMatch{{Headers: map[string]fledgev1alpha1.StringMatch{"cookie": {Regex: &re}}}}
}

// sendsTo reports whether an HTTP route sends traffic to the service host.
func sendsTo(r *istioapiv1.HTTPRoute, host, namespace string) bool {
	for _, d := range r.Route {
		if d.Destination != nil && sameHost(d.Destination.Host, host, namespace) {
			return true
		}
	}
	return false
}

func sameHost(h, service, namespace string) bool {
	for _, form := range fledgev1alpha1.ServiceHosts(service, namespace, fledgev1alpha1.DefaultClusterDomain) {
		if strings.EqualFold(h, form) {
			return true
		}
	}
	return false
}

// weightsOf returns the weights a VirtualService gives the two subsets of want.
func weightsOf(vs *istioapiv1.VirtualService, host, namespace string, want rollout.Routes) (rollout.Routes, bool) {
	for _, r := range vs.Http {
		got := rollout.Routes{PrimarySubset: want.PrimarySubset, CanarySubset: want.CanarySubset}
		found := false
		for _, d := range r.Route {
			if d.Destination == nil || !sameHost(d.Destination.Host, host, namespace) {
				continue
			}
			switch d.Destination.Subset {
			case want.PrimarySubset:
				got.PrimaryWeight, found = d.Weight, true
			case want.CanarySubset:
				got.CanaryWeight, found = d.Weight, true
			}
		}
		// At rest the route sends everything to Fledge's primary alone.
		if found && (len(r.Route) >= 2 || !withCanary(want) && r.Route[0].Destination.Subset == want.PrimarySubset) {
			return got, true
		}
	}
	return rollout.Routes{}, false
}

// destinationRuleSpec is the DestinationRule a canary needs: subsets primary and canary by the
// copies' role label, and the traffic policy of spec.service. An original keeps its other
// subsets, and its traffic policy unless spec.service sets one.
func destinationRuleSpec(canary *fledgev1alpha1.Canary, original *istioapiv1.DestinationRule, withCanary bool, exportTo []string) *istioapiv1.DestinationRule {
	subsets := []*istioapiv1.Subset{
		{Name: rollout.SubsetPrimary, Labels: map[string]string{workload.LabelCanary: canary.Name, workload.LabelRole: string(workload.Primary)}},
	}
	if withCanary {
		subsets = append(subsets, &istioapiv1.Subset{Name: rollout.SubsetCanary, Labels: map[string]string{workload.LabelCanary: canary.Name, workload.LabelRole: string(workload.Canary)}})
	}
	policy := trafficPolicy(canary.Spec.Service.TrafficPolicy)
	if original == nil {
		return &istioapiv1.DestinationRule{Host: ServiceName(canary), TrafficPolicy: policy, Subsets: subsets, ExportTo: exportTo}
	}
	spec := proto.Clone(original).(*istioapiv1.DestinationRule)
	if policy != nil {
		spec.TrafficPolicy = policy
	}
	kept := spec.Subsets[:0]
	for _, s := range spec.Subsets {
		if s.Name != rollout.SubsetPrimary && s.Name != rollout.SubsetCanary {
			kept = append(kept, s)
		}
	}
	spec.Subsets = append(kept, subsets...)
	return spec
}

func trafficPolicy(tp *fledgev1alpha1.TrafficPolicy) *istioapiv1.TrafficPolicy {
	if tp == nil {
		return nil
	}
	out := &istioapiv1.TrafficPolicy{}
	if lb := tp.LoadBalancer; lb != nil {
		out.LoadBalancer = &istioapiv1.LoadBalancerSettings{LbPolicy: &istioapiv1.LoadBalancerSettings_Simple{
			Simple: istioapiv1.LoadBalancerSettings_SimpleLB(istioapiv1alpha3.LoadBalancerSettings_SimpleLB_value[lb.Simple]),
		}}
	}
	if cp := tp.ConnectionPool; cp != nil {
		out.ConnectionPool = &istioapiv1.ConnectionPoolSettings{
			Tcp: &istioapiv1.ConnectionPoolSettings_TCPSettings{
				MaxConnections: deref(cp.MaxConnections),
				ConnectTimeout: duration(cp.ConnectTimeout),
			},
			Http: &istioapiv1.ConnectionPoolSettings_HTTPSettings{
				Http1MaxPendingRequests:  deref(cp.HTTP1MaxPendingRequests),
				Http2MaxRequests:         deref(cp.HTTP2MaxRequests),
				MaxRequestsPerConnection: deref(cp.MaxRequestsPerConnection),
				IdleTimeout:              duration(cp.IdleTimeout),
			},
		}
	}
	if od := tp.OutlierDetection; od != nil {
		out.OutlierDetection = &istioapiv1.OutlierDetection{
			Interval:           duration(od.Interval),
			BaseEjectionTime:   duration(od.BaseEjectionTime),
			MaxEjectionPercent: deref(od.MaxEjectionPercent),
		}
		if od.Consecutive5xxErrors != nil {
			out.OutlierDetection.Consecutive_5XxErrors = wrapperspb.UInt32(uint32(*od.Consecutive5xxErrors))
		}
	}
	if tp.TLSMode != "" {
		out.Tls = &istioapiv1.ClientTLSSettings{Mode: istioapiv1.ClientTLSSettings_TLSmode(istioapiv1alpha3.ClientTLSSettings_TLSmode_value[tp.TLSMode])}
	}
	return out
}

func headers(h *fledgev1alpha1.HeaderOperations) *istioapiv1.Headers {
	if h == nil {
		return nil
	}
	return &istioapiv1.Headers{Request: headerOps(h.Request), Response: headerOps(h.Response)}
}

func headerOps(c *fledgev1alpha1.HeaderChanges) *istioapiv1.Headers_HeaderOperations {
	if c == nil {
		return nil
	}
	return &istioapiv1.Headers_HeaderOperations{Set: c.Set, Add: c.Add, Remove: c.Remove}
}

func duration(d *metav1.Duration) *durationpb.Duration {
	if d == nil {
		return nil
	}
	return durationpb.New(d.Duration)
}

func deref(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}
