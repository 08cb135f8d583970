package meshsim

import (
	"sort"
	"strings"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultRootNamespace is Istio's default config root namespace, the last place a
// DestinationRule is looked up.
const DefaultRootNamespace = "istio-system"

// Mesh is a snapshot of what routing depends on, built by the caller from its informer caches.
type Mesh struct {
	VirtualServices  []*networkingv1.VirtualService
	DestinationRules []*networkingv1.DestinationRule
	Services         []*corev1.Service
	Pods             []*corev1.Pod
	// RootNamespace is Istio's config root namespace; "" means istio-system.
	RootNamespace string
	// Envoy, when set, gives the sidecar configuration istiod sends; sidecar traffic is then
	// routed by it, and by the simulator's own reading only where it has none yet.
	Envoy EnvoyConfigs
}

// Index is a Mesh with its lookups precomputed so that routing one request is cheap. It is
// never modified after NewIndex: build a new one when the mesh changes.
type Index struct {
	rootNamespace string
	services      map[string]*service // by FQDN
	twoLabelNames map[string]string   // "name.namespace" to FQDN, to complete that short form

	// VirtualServices bound to hosts, in the order the first one wins for a proxy.
	virtualServices         map[string][]*virtualService // by exact host
	wildcardVirtualServices []hostedVirtualService       // most specific first

	destinationRules         map[namespacedHost]*destinationRule
	wildcardDestinationRules map[string][]*destinationRule // by namespace, most specific first

	envoy EnvoyConfigs
	// endpointsByIP are the pods that can serve, by address, for istiod's endpoints.
	endpointsByIP map[string]*endpoint
}

// service is a Kubernetes Service with its ready endpoints.
type service struct {
	name, namespace, fqdn string
	// port is the Service's first port, whose outbound route a sidecar reads.
	port      uint32
	endpoints []*endpoint
	// subsetEndpoints are the endpoints of each DestinationRule subset that can apply here.
	subsetEndpoints map[*subset][]*endpoint
	// fallback is the route a sidecar uses when no VirtualService covers the Service.
	fallback *httpRoute
}

type namespacedHost struct{ namespace, host string }

// destinationRule is the DestinationRules of one namespace for one host, merged as istiod
// merges them: the oldest rule's subsets win a name clash.
type destinationRule struct {
	namespace, host string
	exportTo        []string
	subsets         map[string]*subset
}

type subset struct {
	name   string
	labels map[string]string
}

type hostedVirtualService struct {
	host string
	vs   *virtualService
}

// NewIndex precomputes the lookups of m.
func NewIndex(m Mesh) *Index {
	ix := &Index{
		rootNamespace:            m.RootNamespace,
		services:                 map[string]*service{},
		twoLabelNames:            map[string]string{},
		virtualServices:          map[string][]*virtualService{},
		destinationRules:         map[namespacedHost]*destinationRule{},
		wildcardDestinationRules: map[string][]*destinationRule{},
		envoy:                    m.Envoy,
		endpointsByIP:            map[string]*endpoint{},
	}
	if ix.rootNamespace == "" {
		ix.rootNamespace = DefaultRootNamespace
	}
	ix.indexServices(m.Services, m.Pods)
	ix.indexDestinationRules(m.DestinationRules)
	ix.indexVirtualServices(m.VirtualServices)
	return ix
}

func (ix *Index) indexServices(services []*corev1.Service, pods []*corev1.Pod) {
	podsByNamespace := map[string][]*corev1.Pod{}
	for _, p := range pods {
		podsByNamespace[p.Namespace] = append(podsByNamespace[p.Namespace], p)
	}
	// A pod behind several Services is one endpoint with one behaviour.
	endpoints := map[*corev1.Pod]*endpoint{}
	for _, s := range services {
		svc := &service{name: s.Name, namespace: s.Namespace, fqdn: s.Name + "." + s.Namespace + clusterSuffix}
		if len(s.Spec.Ports) > 0 {
			svc.port = uint32(s.Spec.Ports[0].Port)
		}
		// A Service without a selector has no endpoints the simulator can know of.
		if len(s.Spec.Selector) > 0 {
			for _, p := range podsByNamespace[s.Namespace] {
				if !hasLabels(p.Labels, s.Spec.Selector) || !isEndpoint(p, s.Spec.PublishNotReadyAddresses) {
					continue
				}
				e := endpoints[p]
				if e == nil {
					e = newEndpoint(p)
					endpoints[p] = e
					if e.ip != "" {
						ix.endpointsByIP[e.ip] = e
					}
				}
				svc.endpoints = append(svc.endpoints, e)
			}
		}
		// Without a VirtualService a sidecar sends everything to the Service's endpoints, with
		// istiod's default retry policy and no timeout.
		svc.fallback = &httpRoute{destinations: []weightedDestination{{destination: destination{host: svc.fqdn}, weight: 1}}, totalWeight: 1, retry: compileRetry(nil)}
		ix.services[svc.fqdn] = svc
		ix.twoLabelNames[svc.name+"."+svc.namespace] = svc.fqdn
	}
}

func (ix *Index) indexDestinationRules(rules []*networkingv1.DestinationRule) {
	rules = append([]*networkingv1.DestinationRule(nil), rules...)
	sort.SliceStable(rules, func(i, j int) bool { return olderFirst(&rules[i].ObjectMeta, &rules[j].ObjectMeta) })
	for _, r := range rules {
		// A rule with a workload selector configures the server side, not the client's routing.
		if r.Spec.GetWorkloadSelector() != nil {
			continue
		}
		key := namespacedHost{r.Namespace, canonicalHost(r.Spec.GetHost(), r.Namespace, ix.twoLabelNames)}
		dr := ix.destinationRules[key]
		if dr == nil {
			dr = &destinationRule{namespace: key.namespace, host: key.host, exportTo: r.Spec.GetExportTo(), subsets: map[string]*subset{}}
			ix.destinationRules[key] = dr
			if strings.HasPrefix(key.host, "*") {
				ix.wildcardDestinationRules[key.namespace] = append(ix.wildcardDestinationRules[key.namespace], dr)
			}
		}
		for _, s := range r.Spec.GetSubsets() {
			if _, clash := dr.subsets[s.GetName()]; !clash {
				dr.subsets[s.GetName()] = &subset{name: s.GetName(), labels: s.GetLabels()}
			}
		}
	}
	for _, list := range ix.wildcardDestinationRules {
		sort.SliceStable(list, func(i, j int) bool { return len(list[i].host) > len(list[j].host) })
	}
	// Precompute each subset's endpoints on every Service its rule covers.
	for _, dr := range ix.destinationRules {
		for _, svc := range ix.servicesCoveredBy(dr.host) {
			for _, s := range dr.subsets {
				if svc.subsetEndpoints == nil {
					svc.subsetEndpoints = map[*subset][]*endpoint{}
				}
				svc.subsetEndpoints[s] = withLabels(svc.endpoints, s.labels)
			}
		}
	}
}

func (ix *Index) servicesCoveredBy(host string) []*service {
	if !strings.HasPrefix(host, "*") {
		if svc := ix.services[host]; svc != nil {
			return []*service{svc}
		}
		return nil
	}
	var out []*service
	for fqdn, svc := range ix.services {
		if wildcardMatches(host, fqdn) {
			out = append(out, svc)
		}
	}
	return out
}

func (ix *Index) indexVirtualServices(list []*networkingv1.VirtualService) {
	list = append([]*networkingv1.VirtualService(nil), list...)
	// For a sidecar the oldest VirtualService of a host wins (istiod does not merge them).
	sort.SliceStable(list, func(i, j int) bool { return olderFirst(&list[i].ObjectMeta, &list[j].ObjectMeta) })
	byName := map[string]*virtualService{}
	compiled := make([]*virtualService, 0, len(list))
	for _, obj := range list {
		vs := ix.compileVirtualService(obj)
		byName[vs.key] = vs
		compiled = append(compiled, vs)
	}
	for _, vs := range compiled {
		vs.resolveDelegates(byName)
		// A VirtualService without hosts can only be a delegate.
		for _, h := range vs.hosts {
			if strings.HasPrefix(h, "*") {
				ix.wildcardVirtualServices = append(ix.wildcardVirtualServices, hostedVirtualService{h, vs})
			} else {
				ix.virtualServices[h] = append(ix.virtualServices[h], vs)
			}
		}
	}
	// Envoy picks the most specific domain: an exact host first, then the longest wildcard.
	sort.SliceStable(ix.wildcardVirtualServices, func(i, j int) bool {
		return len(ix.wildcardVirtualServices[i].host) > len(ix.wildcardVirtualServices[j].host)
	})
}

// olderFirst orders config as istiod does: by creation time, then by namespace and name.
func olderFirst(a, b *metav1.ObjectMeta) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	return a.Name < b.Name
}

// virtualServiceFor is the VirtualService a client in namespace uses for host through gateway.
func (ix *Index) virtualServiceFor(host, namespace, gateway string) *virtualService {
	if vs := pickVirtualService(ix.virtualServices[host], namespace, gateway); vs != nil {
		return vs
	}
	var best *virtualService
	bestRank, bestLen := 3, 0
	for _, w := range ix.wildcardVirtualServices {
		if best != nil && len(w.host) < bestLen {
			break
		}
		if !wildcardMatches(w.host, host) || !w.vs.boundTo(gateway) {
			continue
		}
		if rank := visibilityRank(w.vs.exportTo, w.vs.namespace, namespace); rank >= 0 && rank < bestRank {
			best, bestRank, bestLen = w.vs, rank, len(w.host)
		}
	}
	return best
}

func pickVirtualService(candidates []*virtualService, namespace, gateway string) *virtualService {
	var best *virtualService
	bestRank := 3
	for _, vs := range candidates {
		if !vs.boundTo(gateway) {
			continue
		}
		if rank := visibilityRank(vs.exportTo, vs.namespace, namespace); rank >= 0 && rank < bestRank {
			best, bestRank = vs, rank
		}
	}
	return best
}

// destinationRuleFor looks a host's DestinationRule up where Istio does: in the client's
// namespace, then in the Service's, then in the root namespace, taking in each the most
// specific host that is visible to the client.
func (ix *Index) destinationRuleFor(host, clientNamespace, serviceNamespace string) *destinationRule {
	for _, ns := range []string{clientNamespace, serviceNamespace, ix.rootNamespace} {
		if ns == "" {
			continue
		}
		if dr := ix.destinationRules[namespacedHost{ns, host}]; dr != nil && visibleTo(dr.exportTo, dr.namespace, clientNamespace) {
			return dr
		}
		for _, dr := range ix.wildcardDestinationRules[ns] {
			if wildcardMatches(dr.host, host) && visibleTo(dr.exportTo, dr.namespace, clientNamespace) {
				return dr
			}
		}
	}
	return nil
}
