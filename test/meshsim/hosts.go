package meshsim

import (
	"net"
	"strings"
)

// clusterSuffix is the Kubernetes service domain every short host is completed with.
const clusterSuffix = ".svc.cluster.local"

// meshGateway is the reserved gateway name for sidecar (east-west) traffic.
const meshGateway = "mesh"

// canonicalHost turns a host as written in a request, a VirtualService, a destination or a
// DestinationRule into the form the index keys on, interpreting short names in namespace:
// "web" is web.<namespace>.svc.cluster.local, "web.shop" and "web.shop.svc" are
// web.shop.svc.cluster.local. A two-label name is only completed when services (by
// "name.namespace") has it, so that external names such as "example.com" stay as they are.
func canonicalHost(host, namespace string, services map[string]string) string {
	host = strings.ToLower(strings.TrimSuffix(stripPort(host), "."))
	switch {
	case host == "" || host == "*" || strings.HasPrefix(host, "*."):
		return host
	case !strings.Contains(host, "."):
		return host + "." + namespace + clusterSuffix
	case strings.HasSuffix(host, ".svc"):
		return host + ".cluster.local"
	case strings.Count(host, ".") == 1:
		if fqdn, ok := services[host]; ok {
			return fqdn
		}
	}
	return host
}

func stripPort(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return host
}

// wildcardMatches reports whether a wildcard host ("*" or "*.suffix") covers host.
func wildcardMatches(wildcard, host string) bool {
	if wildcard == "*" {
		return true
	}
	return strings.HasSuffix(host, wildcard[1:]) && len(host) > len(wildcard)-1
}

// visibleTo reports whether a config object in namespace with exportTo can be used by clients
// in client. Istio exports everything everywhere by default; "." is the object's namespace
// and "~" nowhere.
func visibleTo(exportTo []string, namespace, client string) bool {
	if len(exportTo) == 0 {
		return true
	}
	for _, e := range exportTo {
		switch e {
		case "*":
			return true
		case ".":
			if namespace == client {
				return true
			}
		default:
			if e == client {
				return true
			}
		}
	}
	return false
}

// visibilityRank orders VirtualServices for one host the way istiod lists them to a proxy:
// those private to the client's namespace first, then those exported to it by name, then the
// public ones. -1 means not visible.
func visibilityRank(exportTo []string, namespace, client string) int {
	if len(exportTo) == 0 {
		return 2
	}
	rank := -1
	for _, e := range exportTo {
		switch {
		case e == "*":
			return 2
		case e == "~":
			return -1
		case (e == "." || e == namespace) && namespace == client:
			rank = 0
		case e == client && rank < 0:
			rank = 1
		}
	}
	return rank
}

// gatewayName is a gateway reference as written in namespace, made absolute ("ns/name"); the
// reserved "mesh" stays as it is.
func gatewayName(ref, namespace string) string {
	if ref == "" || ref == meshGateway || strings.Contains(ref, "/") {
		return ref
	}
	return namespace + "/" + ref
}
