package istioxds

import (
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	faultv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/fault/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
)

// Request is what Envoy matches a route on.
type Request struct {
	// Host is the Host header (the :authority), with or without a port.
	Host string
	// Path is the path with its query string.
	Path    string
	Method  string
	Headers http.Header
}

// Resolution is where Envoy sends a request: the route taken and the share of requests each
// destination gets, in percent, keyed by "subset|host" ("|host" without a subset).
type Resolution struct {
	// Found is false when no route matched: Envoy answers 404.
	Found bool
	Route string
	// Shares sum to 100 when the route forwards; it is empty for a redirect or direct answer.
	Shares map[string]int
	// Mirrors are the destinations that get a copy of the requests, with the percentage copied.
	Mirrors map[string]float64
	// Timeout is the route's timeout, 0 for none; Retries and PerTryTimeout its retry policy.
	Timeout       time.Duration
	Retries       int
	PerTryTimeout time.Duration
	// Faults are the route's fault injection, nil for none.
	Faults *Faults
}

// Faults are a route's injected delay and abort, with the percentage of requests each hits.
type Faults struct {
	Delay        time.Duration
	DelayPercent float64
	AbortStatus  int
	AbortPercent float64
}

// Equal reports whether two resolutions send requests alike.
func (r Resolution) Equal(o Resolution) bool {
	return r.Found == o.Found && r.Route == o.Route && maps.Equal(r.Shares, o.Shares) && maps.Equal(r.Mirrors, o.Mirrors) &&
		r.Timeout == o.Timeout && r.Retries == o.Retries && r.PerTryTimeout == o.PerTryTimeout &&
		(r.Faults == nil) == (o.Faults == nil) && (r.Faults == nil || *r.Faults == *o.Faults)
}

// Match is the route Envoy takes for req in rc: the virtual host by domain, then the first
// route whose match holds; nil when none does (Envoy answers 404).
func Match(rc *routev3.RouteConfiguration, req Request) *routev3.Route {
	for _, r := range virtualHostFor(rc.GetVirtualHosts(), req.Host).GetRoutes() {
		if matches(r.GetMatch(), req) {
			return r
		}
	}
	return nil
}

// Resolve reads rc as Envoy does for req: the route Match takes, then its cluster or
// weighted clusters.
func Resolve(rc *routev3.RouteConfiguration, req Request) Resolution {
	r := Match(rc, req)
	if r == nil {
		return Resolution{}
	}
	action := r.GetRoute()
	if Passthrough(action.GetCluster()) {
		// istiod's catch-all (allow_any) for hosts it does not know: not a route of the mesh.
		return Resolution{}
	}
	res := Resolution{Found: true, Route: r.GetName(), Shares: map[string]int{}, Mirrors: map[string]float64{}}
	if action == nil {
		return res // a redirect or a direct response reaches no cluster
	}
	res.Timeout = action.GetTimeout().AsDuration()
	res.Retries = int(action.GetRetryPolicy().GetNumRetries().GetValue())
	res.PerTryTimeout = action.GetRetryPolicy().GetPerTryTimeout().AsDuration()
	for _, m := range action.GetRequestMirrorPolicies() {
		res.Mirrors[destinationOf(m.GetCluster())] = PercentOf(m.GetRuntimeFraction().GetDefaultValue())
	}
	res.Faults = FaultsOf(r)
	if c := action.GetCluster(); c != "" {
		res.Shares[destinationOf(c)] = 100
		return res
	}
	var total uint32
	for _, wc := range action.GetWeightedClusters().GetClusters() {
		total += wc.GetWeight().GetValue()
	}
	for _, wc := range action.GetWeightedClusters().GetClusters() {
		if w := wc.GetWeight().GetValue(); w > 0 && total > 0 {
			res.Shares[destinationOf(wc.GetName())] += int(w * 100 / total)
		}
	}
	return res
}

// FaultsOf reads the fault filter's per-route configuration, where istiod puts a
// VirtualService's fault injection.
func FaultsOf(r *routev3.Route) *Faults {
	config, ok := r.GetTypedPerFilterConfig()["envoy.filters.http.fault"]
	if !ok {
		return nil
	}
	fault := &faultv3.HTTPFault{}
	if err := config.UnmarshalTo(fault); err != nil {
		return &Faults{AbortStatus: -1} // unreadable: never equal to the simulator's
	}
	f := &Faults{}
	if d := fault.GetDelay(); d != nil {
		f.Delay, f.DelayPercent = d.GetFixedDelay().AsDuration(), PercentOf(d.GetPercentage())
	}
	if a := fault.GetAbort(); a != nil {
		f.AbortStatus, f.AbortPercent = int(a.GetHttpStatus()), PercentOf(a.GetPercentage())
	}
	return f
}

// PercentOf reads Envoy's fractional percent; none means all requests.
func PercentOf(f *typev3.FractionalPercent) float64 {
	if f == nil {
		return 100
	}
	denominator := map[typev3.FractionalPercent_DenominatorType]float64{
		typev3.FractionalPercent_HUNDRED: 100, typev3.FractionalPercent_TEN_THOUSAND: 10_000, typev3.FractionalPercent_MILLION: 1_000_000,
	}[f.GetDenominator()]
	return float64(f.GetNumerator()) * 100 / denominator
}

// Passthrough reports whether cluster is one of istiod's for traffic to hosts outside its
// registry.
func Passthrough(cluster string) bool {
	return cluster == "PassthroughCluster" || cluster == "BlackHoleCluster"
}

// destinationOf turns istiod's cluster name outbound|port|subset|host into "subset|host".
func destinationOf(cluster string) string {
	if subset, host, ok := ClusterDestination(cluster); ok {
		return subset + "|" + host
	}
	return cluster
}

// ClusterDestination reads istiod's cluster name outbound|port|subset|host.
func ClusterDestination(cluster string) (subset, host string, ok bool) {
	parts := strings.Split(cluster, "|")
	if len(parts) != 4 {
		return "", "", false
	}
	return parts[2], parts[3], true
}

// virtualHostFor picks the virtual host as Envoy does: an exact domain, then the longest
// suffix wildcard (*.example.com), then the longest prefix wildcard, then "*".
func virtualHostFor(hosts []*routev3.VirtualHost, host string) *routev3.VirtualHost {
	host = strings.ToLower(host)
	var best *routev3.VirtualHost
	bestRank, bestLen := 0, -1
	for _, vh := range hosts {
		for _, d := range vh.GetDomains() {
			d = strings.ToLower(d)
			rank, length := 0, len(d)
			switch {
			case d == host:
				return vh
			case d == "*":
				rank = 1
			// A wildcard stands for at least one character.
			case strings.HasPrefix(d, "*") && len(host) > len(d)-1 && strings.HasSuffix(host, d[1:]):
				rank = 3
			case strings.HasSuffix(d, "*") && len(host) > len(d)-1 && strings.HasPrefix(host, d[:len(d)-1]):
				rank = 2
			default:
				continue
			}
			if rank > bestRank || rank == bestRank && length > bestLen {
				best, bestRank, bestLen = vh, rank, length
			}
		}
	}
	return best
}

func matches(m *routev3.RouteMatch, req Request) bool {
	path, query, _ := strings.Cut(req.Path, "?")
	if path == "" {
		path = "/"
	}
	caseSensitive := m.GetCaseSensitive() == nil || m.GetCaseSensitive().GetValue()
	switch p := m.GetPathSpecifier().(type) {
	case *routev3.RouteMatch_Prefix:
		if !hasPrefix(path, p.Prefix, !caseSensitive) {
			return false
		}
	case *routev3.RouteMatch_Path:
		if !equal(path, p.Path, !caseSensitive) {
			return false
		}
	case *routev3.RouteMatch_SafeRegex:
		if !fullMatch(p.SafeRegex.GetRegex(), path) {
			return false
		}
	case *routev3.RouteMatch_PathSeparatedPrefix:
		if path != p.PathSeparatedPrefix && !strings.HasPrefix(path, strings.TrimSuffix(p.PathSeparatedPrefix, "/")+"/") {
			return false
		}
	}
	for _, h := range m.GetHeaders() {
		value, present := header(req, path, h.GetName())
		if headerMatches(h, value, present) == h.GetInvertMatch() {
			return false
		}
	}
	params, _ := url.ParseQuery(query)
	for _, q := range m.GetQueryParameters() {
		values, present := params[q.GetName()]
		switch {
		case q.GetPresentMatch():
			if !present {
				return false
			}
		case q.GetStringMatch() != nil:
			if !present || !stringMatches(q.GetStringMatch(), values[0]) {
				return false
			}
		}
	}
	return true
}

// header is a request header as Envoy sees it, pseudo-headers included.
func header(req Request, path, name string) (string, bool) {
	switch strings.ToLower(name) {
	case ":authority", "host":
		return req.Host, true
	case ":path":
		return req.Path, true
	case ":method":
		if req.Method == "" {
			return http.MethodGet, true
		}
		return req.Method, true
	case ":scheme":
		return "http", true
	}
	values := req.Headers.Values(name)
	if len(values) == 0 {
		return "", false
	}
	return strings.Join(values, ","), true
}

func headerMatches(h *routev3.HeaderMatcher, value string, present bool) bool {
	switch s := h.GetHeaderMatchSpecifier().(type) {
	case *routev3.HeaderMatcher_PresentMatch:
		return present == s.PresentMatch
	case *routev3.HeaderMatcher_ExactMatch:
		return present && value == s.ExactMatch
	case *routev3.HeaderMatcher_PrefixMatch:
		return present && strings.HasPrefix(value, s.PrefixMatch)
	case *routev3.HeaderMatcher_SuffixMatch:
		return present && strings.HasSuffix(value, s.SuffixMatch)
	case *routev3.HeaderMatcher_ContainsMatch:
		return present && strings.Contains(value, s.ContainsMatch)
	case *routev3.HeaderMatcher_SafeRegexMatch:
		return present && fullMatch(s.SafeRegexMatch.GetRegex(), value)
	case *routev3.HeaderMatcher_StringMatch:
		return present && stringMatches(s.StringMatch, value)
	case nil:
		return present // no specifier: the header must be there
	}
	return false
}

func stringMatches(m *matcherv3.StringMatcher, value string) bool {
	fold := m.GetIgnoreCase()
	switch p := m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		return equal(value, p.Exact, fold)
	case *matcherv3.StringMatcher_Prefix:
		return hasPrefix(value, p.Prefix, fold)
	case *matcherv3.StringMatcher_Suffix:
		if fold {
			return strings.HasSuffix(strings.ToLower(value), strings.ToLower(p.Suffix))
		}
		return strings.HasSuffix(value, p.Suffix)
	case *matcherv3.StringMatcher_Contains:
		if fold {
			return strings.Contains(strings.ToLower(value), strings.ToLower(p.Contains))
		}
		return strings.Contains(value, p.Contains)
	case *matcherv3.StringMatcher_SafeRegex:
		return fullMatch(p.SafeRegex.GetRegex(), value)
	}
	return false
}

// fullMatch is Envoy's safe_regex: RE2 over the whole value.
func fullMatch(re, value string) bool {
	compiled, err := regexp.Compile("^(?:" + re + ")$")
	return err == nil && compiled.MatchString(value)
}

func equal(a, b string, fold bool) bool {
	if fold {
		return strings.EqualFold(a, b)
	}
	return a == b
}

func hasPrefix(s, prefix string, fold bool) bool {
	if fold {
		return strings.HasPrefix(strings.ToLower(s), strings.ToLower(prefix))
	}
	return strings.HasPrefix(s, prefix)
}
