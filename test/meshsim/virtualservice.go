package meshsim

import (
	istioapiv1 "istio.io/api/networking/v1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
)

// virtualService is a VirtualService compiled for routing.
type virtualService struct {
	namespace, name string
	key             string   // namespace/name
	hosts           []string // canonical
	gateways        []string // absolute; empty means the mesh
	exportTo        []string
	routes          []*httpRoute
}

// boundTo reports whether the VirtualService applies to traffic through gateway ("mesh" for
// sidecars): a VirtualService without gateways applies to the mesh only.
func (vs *virtualService) boundTo(gateway string) bool {
	if len(vs.gateways) == 0 {
		return gateway == meshGateway
	}
	return contains(vs.gateways, gateway)
}

// firstMatch is the first HTTP route whose match list matches, looking one level into
// delegates as Istio does: a delegating route stands for its child's routes, each under the
// parent's match, and when none of them matches the search goes on with the parent's next route.
func (vs *virtualService) firstMatch(v *requestView) *httpRoute {
	for _, r := range vs.routes {
		if !matchesAny(r.matches, v) {
			continue
		}
		if r.delegateRef == "" {
			return r
		}
		if r.delegate == nil { // istiod drops a route whose delegate does not exist
			continue
		}
		for _, c := range r.delegate.routes {
			if c.delegateRef == "" && matchesAny(c.matches, v) {
				return c
			}
		}
	}
	return nil
}

func (vs *virtualService) resolveDelegates(byName map[string]*virtualService) {
	for _, r := range vs.routes {
		if r.delegateRef != "" {
			r.delegate = byName[r.delegateRef]
		}
	}
}

func (ix *Index) compileVirtualService(obj *networkingv1.VirtualService) *virtualService {
	spec := &obj.Spec
	vs := &virtualService{namespace: obj.Namespace, name: obj.Name, key: obj.Namespace + "/" + obj.Name, exportTo: spec.GetExportTo()}
	for _, h := range spec.GetHosts() {
		vs.hosts = append(vs.hosts, canonicalHost(h, obj.Namespace, ix.twoLabelNames))
	}
	for _, g := range spec.GetGateways() {
		vs.gateways = append(vs.gateways, gatewayName(g, obj.Namespace))
	}
	for _, r := range spec.GetHttp() {
		vs.routes = append(vs.routes, ix.compileRoute(r, obj.Namespace))
	}
	return vs
}

func (ix *Index) compileRoute(r *istioapiv1.HTTPRoute, namespace string) *httpRoute {
	out := &httpRoute{
		name:        r.GetName(),
		timeout:     r.GetTimeout().AsDuration(),
		retry:       compileRetry(r.GetRetries()),
		setResponse: r.GetHeaders().GetResponse().GetSet(),
	}
	for _, m := range r.GetMatch() {
		out.matches = append(out.matches, compileMatch(m, namespace))
	}
	dest := func(d *istioapiv1.Destination) destination {
		return destination{host: canonicalHost(d.GetHost(), namespace, ix.twoLabelNames), subset: d.GetSubset()}
	}
	for _, d := range r.GetRoute() {
		w := int(d.GetWeight())
		if len(r.GetRoute()) == 1 {
			w = 1 // a single destination takes everything, whatever its weight
		}
		if w > 0 {
			out.destinations = append(out.destinations, weightedDestination{dest(d.GetDestination()), w, d.GetHeaders().GetResponse().GetSet()})
			out.totalWeight += w
		}
	}
	if m := r.GetMirror(); m != nil {
		pct := 100.0
		if p := r.GetMirrorPercentage(); p != nil {
			pct = p.GetValue()
		} else if p := r.GetMirrorPercent(); p != nil {
			pct = float64(p.GetValue())
		}
		out.mirrors = append(out.mirrors, mirror{dest(m), pct})
	}
	for _, m := range r.GetMirrors() {
		pct := 100.0
		if p := m.GetPercentage(); p != nil {
			pct = p.GetValue()
		}
		out.mirrors = append(out.mirrors, mirror{dest(m.GetDestination()), pct})
	}
	if d := r.GetFault().GetDelay(); d != nil && d.GetFixedDelay() != nil {
		// Unspecified, the percentage is 0: Istio documents that nothing is then delayed.
		pct := float64(d.GetPercent())
		if p := d.GetPercentage(); p != nil {
			pct = p.GetValue()
		}
		out.delay = &delayFault{d.GetFixedDelay().AsDuration(), pct}
	}
	if a := r.GetFault().GetAbort(); a != nil && a.GetHttpStatus() > 0 {
		out.abort = &abortFault{int(a.GetHttpStatus()), a.GetPercentage().GetValue()}
	}
	if rd := r.GetRedirect(); rd != nil {
		out.localStatus = int(rd.GetRedirectCode())
		if out.localStatus == 0 {
			out.localStatus = 301
		}
	}
	if dr := r.GetDirectResponse(); dr != nil {
		out.localStatus = int(dr.GetStatus())
	}
	if d := r.GetDelegate(); d != nil {
		ns := d.GetNamespace()
		if ns == "" {
			ns = namespace
		}
		out.delegateRef = ns + "/" + d.GetName()
	}
	return out
}
