package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CanaryService says how the application is exposed. Fledge generates a Service, a
// DestinationRule with the subsets primary and canary, and a VirtualService from it.
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
	Hosts []string `json:"hosts,omitempty"`

	// gateways the VirtualService is bound to ("namespace/name", or "mesh" for sidecars).
	// Defaults to the mesh only.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:MinLength=1
	Gateways []string `json:"gateways,omitempty"`

	// timeout of each HTTP request on the generated routes.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
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
	PerTryTimeout *metav1.Duration `json:"perTryTimeout,omitempty"`

	// retryOn lists the conditions that trigger a retry, as in Envoy's x-envoy-retry-on
	// (for example "5xx,gateway-error,connect-failure").
	// +optional
	// +kubebuilder:validation:MaxLength=512
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
	Interval *metav1.Duration `json:"interval,omitempty"`

	// baseEjectionTime is the minimum ejection duration.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	BaseEjectionTime *metav1.Duration `json:"baseEjectionTime,omitempty"`

	// maxEjectionPercent is the largest share of endpoints that may be ejected.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	MaxEjectionPercent *int32 `json:"maxEjectionPercent,omitempty"`
}
