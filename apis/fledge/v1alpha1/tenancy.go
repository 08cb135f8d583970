package v1alpha1

import (
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// LabelNamespaceEnabled, "true" on a Namespace, is an administrator's leave for Fledge to
// act there: the admission policy of the install (config/policy) refuses every write of the
// manager in a namespace without it, as Istio injects sidecars only where a namespace asks.
const LabelNamespaceEnabled = "fledge.dev/enabled"

// DefaultClusterDomain is the DNS domain of a cluster's Services unless the manager is told
// another.
const DefaultClusterDomain = "cluster.local"

// ServiceName is the name of the Service, DestinationRule and VirtualService of the Canary.
func (c *Canary) ServiceName() string {
	if c.Spec.Service.Name != "" {
		return c.Spec.Service.Name
	}
	return c.Spec.TargetRef.Name
}

// OwnHosts are the names by which the mesh knows the Canary's own Service.
func (c *Canary) OwnHosts(clusterDomain string) []string {
	return ServiceHosts(c.ServiceName(), c.Namespace, clusterDomain)
}

// ServiceHosts are the names by which the mesh knows a Service: short, with its namespace,
// with .svc, and whole in the cluster's domain.
func ServiceHosts(service, namespace, clusterDomain string) []string {
	name := service + "." + namespace
	return []string{service, name, name + ".svc", name + ".svc." + clusterDomain}
}

// HostErrors lists the hosts of spec.service that would reach past the Canary's own Service.
// A VirtualService bound to the mesh takes over the calls to its hosts from every sidecar that
// sees it: with another team's Service, or an outside name such as an API of a payment
// provider, among its hosts, a Canary would capture their traffic. Bound to gateways only, the
// hosts are the Gateway's to allow (its servers' namespace/host), so they are not limited here.
func (c *Canary) HostErrors(clusterDomain string) field.ErrorList {
	svc := c.Spec.Service
	if len(svc.Gateways) > 0 && !slices.Contains(svc.Gateways, "mesh") {
		return nil
	}
	own := c.OwnHosts(clusterDomain)
	hosts := field.NewPath("spec", "service", "hosts")
	var errs field.ErrorList
	for i, h := range svc.Hosts {
		if slices.Contains(own, strings.ToLower(h)) {
			continue
		}
		errs = append(errs, field.Invalid(hosts.Index(i), h,
			"a VirtualService bound to the mesh takes this host's calls from every namespace, and it is not a name of this Canary's Service: use "+
				strings.Join(own, ", ")+", or bind the host to gateways only (without mesh)"))
	}
	return errs
}
