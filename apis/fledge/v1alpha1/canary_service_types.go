package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CanaryService says how the application is exposed. Fledge generates a Service, a
// DestinationRule with the subsets primary and canary, and a VirtualService from it.
// +kubebuilder:validation:XValidation:rule="!has(self.hosts) || !self.hosts.exists(h, h == '*') || has(self.gateways) && !self.gateways.exists(g, g == 'mesh')",message="hosts may hold * only for a VirtualService bound to gateways, not the mesh: Istio refuses * for sidecars"
type CanaryService struct {
	// name of the Service (and of the DestinationRule and VirtualService). Defaults to the
	// target's name.
	// +optional
	// +kubebuilder:validation:MaxLength=55
	// +kubebuilder:validation:Pattern=`^[a-z]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name,omitempty"`

	// port the Service listens on. Required unless the Canary uses existing subsets.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`

	// targetPort is the container port that serves the traffic. Defaults to port.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	TargetPort int32 `json:"targetPort,omitempty"`

	// portName is the name of the Service port; Istio infers the protocol from its prefix.
	// +optional
	// +kubebuilder:default=http
	// +kubebuilder:validation:MaxLength=15
	// +kubebuilder:validation:Pattern=`^[a-z]([-a-z0-9]*[a-z0-9])?$`
	PortName string `json:"portName,omitempty"`

	// hosts of the VirtualService. Defaults to the Service name.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:XValidation:rule="self.all(h, h.matches('^([*]|([*]-?)?[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)([.][a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*$'))",message="each host must be a DNS name, optionally with a wildcard first label (for example web.example.com or *.example.com)"
	// +kubebuilder:validation:XValidation:rule="self.all(h, h.split('.').all(l, l.size() <= 63))",message="each label of a host (between dots) must be at most 63 characters"
	// +kubebuilder:validation:XValidation:rule="self.all(h, h.matches('^[0-9.]+$') || !h.matches('[.][0-9]+$'))",message="a host's last label must not be all digits, unless the host is an IPv4 address"
	// +kubebuilder:validation:XValidation:rule="self.all(a, self.all(b, a == b || a != '*' && !(a.startsWith('*.') && b.endsWith(a.substring(1)))))",message="hosts must not overlap: * covers every other host, and *.example.com covers web.example.com (Istio refuses duplicate hosts)"
	Hosts []string `json:"hosts,omitempty"`

	// gateways the VirtualService is bound to ("namespace/name", or "mesh" for sidecars).
	// Defaults to the mesh only.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:XValidation:rule="self.all(g, g.matches('^([a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?/)?[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$'))",message="each gateway must be mesh, a Gateway's name, or namespace/name (for example istio-system/public; Istio warns about the old name.namespace form)"
	Gateways []string `json:"gateways,omitempty"`

	// timeout of each HTTP request on the generated routes.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1ms') && self.matches('^([0-9]+(ms|s|m|h)|[0-9]+[.][0-9]{1,3}s)+$')",message="timeout must be at least 1ms, in whole milliseconds (h, m, s or ms, at most three decimals on s, for example 1.5s or 250ms): Istio refuses anything finer"
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// retries of the generated routes.
	// +optional
	Retries *HTTPRetry `json:"retries,omitempty"`

	// headers added to, set on or removed from requests and responses of the generated routes.
	// +optional
	Headers *HeaderOperations `json:"headers,omitempty"`

	// trafficPolicy of the generated DestinationRule, applied to both subsets.
	// +optional
	TrafficPolicy *TrafficPolicy `json:"trafficPolicy,omitempty"`
}

// HTTPRetry is the retry policy of a route.
// +kubebuilder:validation:XValidation:rule="self.attempts > 0 || !has(self.perTryTimeout) && (!has(self.retryOn) || self.retryOn.size() == 0)",message="attempts 0 turns retries off: remove perTryTimeout and retryOn, or set attempts"
type HTTPRetry struct {
	// attempts is the number of retries of a request.
	// +required
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Attempts int32 `json:"attempts"`

	// perTryTimeout is the timeout of each attempt.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1ms') && self.matches('^([0-9]+(ms|s|m|h)|[0-9]+[.][0-9]{1,3}s)+$')",message="perTryTimeout must be at least 1ms, in whole milliseconds (h, m, s or ms, at most three decimals on s, for example 1.5s or 250ms): Istio refuses anything finer"
	PerTryTimeout *metav1.Duration `json:"perTryTimeout,omitempty"`

	// retryOn lists the conditions that trigger a retry, as in Envoy's x-envoy-retry-on
	// (for example "5xx,gateway-error,connect-failure").
	// +optional
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="self.split(',').all(p, p in ['5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'retriable-4xx', 'refused-stream', 'retriable-status-codes', 'retriable-headers', 'envoy-ratelimited', 'http3-post-connect-failure', 'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable'] || p.matches('^[0-9]{3}$') && int(p) in [100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 421, 422, 423, 424, 425, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511])",message="retryOn is a comma-separated list without spaces of Envoy retry conditions (5xx, gateway-error, reset, connect-failure, retriable-4xx, refused-stream, ...) or HTTP status codes Go knows (503, 429...), for example 5xx,connect-failure"
	RetryOn string `json:"retryOn,omitempty"`
}

// HeaderOperations changes the headers of requests and responses.
type HeaderOperations struct {
	// request headers to change.
	// +optional
	Request *HeaderChanges `json:"request,omitempty"`

	// response headers to change.
	// +optional
	Response *HeaderChanges `json:"response,omitempty"`
}

// HeaderChanges sets, adds and removes headers.
type HeaderChanges struct {
	// set overwrites these headers.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	Set map[string]string `json:"set,omitempty"`

	// add appends these headers.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	Add map[string]string `json:"add,omitempty"`

	// remove deletes these headers.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=256
	Remove []string `json:"remove,omitempty"`
}

// TrafficPolicy is the part of Istio's traffic policy that Fledge copies into the
// DestinationRule it generates.
// +kubebuilder:validation:XValidation:rule="!has(self.tlsMode) || self.tlsMode != 'MUTUAL'",message="tlsMode MUTUAL needs client certificates, which Fledge does not carry: use ISTIO_MUTUAL (the mesh's certificates) or SIMPLE"
type TrafficPolicy struct {
	// loadBalancer picks the load-balancing algorithm.
	// +optional
	LoadBalancer *LoadBalancer `json:"loadBalancer,omitempty"`

	// connectionPool limits connections and requests to each version.
	// +optional
	ConnectionPool *ConnectionPool `json:"connectionPool,omitempty"`

	// outlierDetection ejects failing endpoints from the load-balancing pool.
	// +optional
	OutlierDetection *OutlierDetection `json:"outlierDetection,omitempty"`

	// tlsMode of the connections to the service: DISABLE, SIMPLE, MUTUAL or ISTIO_MUTUAL.
	// +optional
	// +kubebuilder:validation:Enum=DISABLE;SIMPLE;MUTUAL;ISTIO_MUTUAL
	TLSMode string `json:"tlsMode,omitempty"`
}

// LoadBalancer picks a simple load-balancing algorithm.
type LoadBalancer struct {
	// simple is the algorithm.
	// +required
	// +kubebuilder:validation:Enum=LEAST_REQUEST;ROUND_ROBIN;RANDOM;PASSTHROUGH
	Simple string `json:"simple"`
}

// ConnectionPool limits connections and requests.
type ConnectionPool struct {
	// maxConnections is the maximum number of TCP connections to one destination host.
	// +optional
	// +kubebuilder:validation:Minimum=1
	MaxConnections *int32 `json:"maxConnections,omitempty"`

	// connectTimeout of TCP connections.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1ms') && self.matches('^([0-9]+(ms|s|m|h)|[0-9]+[.][0-9]{1,3}s)+$')",message="connectTimeout must be at least 1ms, in whole milliseconds (h, m, s or ms, at most three decimals on s, for example 1.5s or 250ms): Istio refuses anything finer"
	ConnectTimeout *metav1.Duration `json:"connectTimeout,omitempty"`

	// http1MaxPendingRequests is the maximum number of requests queued for a connection.
	// +optional
	// +kubebuilder:validation:Minimum=1
	HTTP1MaxPendingRequests *int32 `json:"http1MaxPendingRequests,omitempty"`

	// http2MaxRequests is the maximum number of active requests to a destination.
	// +optional
	// +kubebuilder:validation:Minimum=1
	HTTP2MaxRequests *int32 `json:"http2MaxRequests,omitempty"`

	// maxRequestsPerConnection closes a connection after this many requests (0: unlimited).
	// +optional
	// +kubebuilder:validation:Minimum=0
	MaxRequestsPerConnection *int32 `json:"maxRequestsPerConnection,omitempty"`

	// idleTimeout closes connections idle for this long.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1ms') && self.matches('^([0-9]+(ms|s|m|h)|[0-9]+[.][0-9]{1,3}s)+$')",message="idleTimeout must be at least 1ms, in whole milliseconds (h, m, s or ms, at most three decimals on s, for example 1.5s or 250ms): Istio refuses anything finer"
	IdleTimeout *metav1.Duration `json:"idleTimeout,omitempty"`
}

// OutlierDetection ejects endpoints that keep failing.
type OutlierDetection struct {
	// consecutive5xxErrors ejects an endpoint after this many 5xx responses in a row.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Consecutive5xxErrors *int32 `json:"consecutive5xxErrors,omitempty"`

	// interval between ejection sweeps.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1ms') && self.matches('^([0-9]+(ms|s|m|h)|[0-9]+[.][0-9]{1,3}s)+$')",message="outlierDetection.interval must be at least 1ms, in whole milliseconds (h, m, s or ms, at most three decimals on s, for example 1.5s or 250ms): Istio refuses anything finer"
	Interval *metav1.Duration `json:"interval,omitempty"`

	// baseEjectionTime is the minimum ejection duration.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1ms') && self.matches('^([0-9]+(ms|s|m|h)|[0-9]+[.][0-9]{1,3}s)+$')",message="baseEjectionTime must be at least 1ms, in whole milliseconds (h, m, s or ms, at most three decimals on s, for example 1.5s or 250ms): Istio refuses anything finer"
	BaseEjectionTime *metav1.Duration `json:"baseEjectionTime,omitempty"`

	// maxEjectionPercent is the largest share of endpoints that may be ejected.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	MaxEjectionPercent *int32 `json:"maxEjectionPercent,omitempty"`
}
