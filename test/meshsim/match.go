package meshsim

import (
	"net/http"
	"regexp"
	"strings"

	istioapiv1 "istio.io/api/networking/v1"
)

// stringMatcher is an Istio StringMatch compiled once, when the index is built.
type stringMatcher struct {
	kind  matchKind
	value string
	re    *regexp.Regexp // nil for a regex that does not compile: it never matches
}

type matchKind int

const (
	matchPresent matchKind = iota // the value exists, whatever it is
	matchExact
	matchPrefix
	matchRegex
)

// compileStringMatch compiles m. A nil m, an empty prefix and the regex "*" are Istio's
// catch-alls, which it turns into Envoy presence checks.
func compileStringMatch(m *istioapiv1.StringMatch) *stringMatcher {
	switch t := m.GetMatchType().(type) {
	case *istioapiv1.StringMatch_Exact:
		return &stringMatcher{kind: matchExact, value: t.Exact}
	case *istioapiv1.StringMatch_Prefix:
		if t.Prefix == "" {
			return &stringMatcher{kind: matchPresent}
		}
		return &stringMatcher{kind: matchPrefix, value: t.Prefix}
	case *istioapiv1.StringMatch_Regex:
		if t.Regex == "*" {
			return &stringMatcher{kind: matchPresent}
		}
		// Envoy's safe_regex is RE2 and must match the whole value.
		re, _ := regexp.Compile(`^(?:` + t.Regex + `)$`)
		return &stringMatcher{kind: matchRegex, value: t.Regex, re: re}
	}
	return &stringMatcher{kind: matchPresent}
}

// matches reports whether a present value matches; ignoreCase applies to exact and prefix only,
// as in Envoy.
func (m *stringMatcher) matches(v string, ignoreCase bool) bool {
	switch m.kind {
	case matchExact:
		if ignoreCase {
			return strings.EqualFold(v, m.value)
		}
		return v == m.value
	case matchPrefix:
		if ignoreCase {
			return len(v) >= len(m.value) && strings.EqualFold(v[:len(m.value)], m.value)
		}
		return strings.HasPrefix(v, m.value)
	case matchRegex:
		return m.re != nil && m.re.MatchString(v)
	}
	return true
}

// headerMatcher is one entry of headers (or, inverted, of withoutHeaders).
type headerMatcher struct {
	name    string
	match   *stringMatcher
	inverse bool
}

// matchesHeaders follows Envoy's HeaderMatcher: an absent header fails every positive check;
// inverted (withoutHeaders), an absent header only passes a presence check. So
// `withoutHeaders: {x: {exact: a}}` needs x present and different from a, as Istio documents.
func (h headerMatcher) matchesHeaders(headers http.Header) bool {
	v, ok := headerValue(headers, h.name)
	if !ok {
		return h.inverse && h.match.kind == matchPresent
	}
	return h.match.matches(v, false) != h.inverse
}

// headerValue is a header as Envoy matches it: all its values joined by "," (cookies by "; ",
// as Envoy joins the cookie headers of HTTP/2). Names are looked up case-insensitively.
func headerValue(headers http.Header, name string) (string, bool) {
	values, ok := headers[http.CanonicalHeaderKey(name)]
	if !ok {
		values, ok = headers[name]
	}
	if !ok {
		return "", false
	}
	if name == "cookie" {
		return strings.Join(values, "; "), true
	}
	return strings.Join(values, ","), true
}

// queryMatcher is one entry of queryParams.
type queryMatcher struct {
	name  string
	match *stringMatcher
}

// matchRequest is an HTTPMatchRequest compiled: all its conditions must hold.
type matchRequest struct {
	uri             *stringMatcher
	ignoreURICase   bool
	scheme          *stringMatcher
	method          *stringMatcher
	authority       *stringMatcher
	headers         []headerMatcher
	queryParams     []queryMatcher
	port            uint32
	sourceLabels    map[string]string
	sourceNamespace string
	gateways        []string
}

// Header names Istio refuses to match as headers: they are the request's own fields.
var reservedHeaders = map[string]bool{"uri": true, "scheme": true, "method": true, "authority": true}

func compileMatch(m *istioapiv1.HTTPMatchRequest, namespace string) *matchRequest {
	out := &matchRequest{
		ignoreURICase:   m.GetIgnoreUriCase(),
		port:            m.GetPort(),
		sourceLabels:    m.GetSourceLabels(),
		sourceNamespace: m.GetSourceNamespace(),
	}
	if m.GetUri().GetMatchType() != nil {
		out.uri = compileStringMatch(m.GetUri())
	}
	if m.GetScheme().GetMatchType() != nil {
		out.scheme = compileStringMatch(m.GetScheme())
	}
	if m.GetMethod().GetMatchType() != nil {
		out.method = compileStringMatch(m.GetMethod())
	}
	if m.GetAuthority().GetMatchType() != nil {
		out.authority = compileStringMatch(m.GetAuthority())
	}
	for name, sm := range m.GetHeaders() {
		if !reservedHeaders[name] {
			out.headers = append(out.headers, headerMatcher{name: strings.ToLower(name), match: compileStringMatch(sm)})
		}
	}
	for name, sm := range m.GetWithoutHeaders() {
		if !reservedHeaders[name] {
			out.headers = append(out.headers, headerMatcher{name: strings.ToLower(name), match: compileStringMatch(sm), inverse: true})
		}
	}
	for name, sm := range m.GetQueryParams() {
		out.queryParams = append(out.queryParams, queryMatcher{name: name, match: compileStringMatch(sm)})
	}
	for _, g := range m.GetGateways() {
		out.gateways = append(out.gateways, gatewayName(g, namespace))
	}
	return out
}

// requestView is a request taken apart once for matching.
type requestView struct {
	req       *Request
	path      string // without the query string: Envoy's path matchers never see it
	rawQuery  string
	query     map[string]string // first value of each parameter, parsed on first use
	method    string
	gateway   string
	authority string
}

func newRequestView(req *Request) requestView {
	path, query, _ := strings.Cut(req.Path, "?")
	if path == "" {
		path = "/"
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	gateway := req.Gateway
	if gateway == "" {
		gateway = meshGateway
	}
	return requestView{req: req, path: path, rawQuery: query, method: method, gateway: gateway, authority: req.Host}
}

// queryParam is the first value of a query parameter, undecoded, as Envoy's matcher reads it.
func (v *requestView) queryParam(name string) (string, bool) {
	if v.query == nil {
		v.query = map[string]string{}
		for _, kv := range strings.Split(v.rawQuery, "&") {
			if kv == "" {
				continue
			}
			k, val, _ := strings.Cut(kv, "=")
			if _, seen := v.query[k]; !seen {
				v.query[k] = val
			}
		}
	}
	val, ok := v.query[name]
	return val, ok
}

func (m *matchRequest) matches(v *requestView) bool {
	if m.uri != nil && !m.uri.matches(v.path, m.ignoreURICase && m.uri.kind != matchRegex) {
		return false
	}
	if m.scheme != nil && !m.scheme.matches("http", false) {
		return false
	}
	if m.method != nil && !m.method.matches(v.method, false) {
		return false
	}
	if m.authority != nil && !m.authority.matches(v.authority, false) {
		return false
	}
	if m.port != 0 && v.req.Port != 0 && m.port != v.req.Port {
		return false
	}
	// sourceLabels, sourceNamespace and gateways select the proxies a match is given to;
	// for a simulated request that is the same as a condition on its source.
	if !hasLabels(v.req.SourceLabels, m.sourceLabels) {
		return false
	}
	if m.sourceNamespace != "" && m.sourceNamespace != v.req.Namespace {
		return false
	}
	if len(m.gateways) > 0 && !contains(m.gateways, v.gateway) {
		return false
	}
	for _, h := range m.headers {
		if !h.matchesHeaders(v.req.Headers) {
			return false
		}
	}
	for _, q := range m.queryParams {
		val, ok := v.queryParam(q.name)
		if !ok || !q.match.matches(val, false) {
			return false
		}
	}
	return true
}

// matchesAny is a route's match list: empty matches everything, else any one entry must.
func matchesAny(ms []*matchRequest, v *requestView) bool {
	if len(ms) == 0 {
		return true
	}
	for _, m := range ms {
		if m.matches(v) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
