package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MetricTemplateSpec is a metrics provider and a query template.
type MetricTemplateSpec struct {
	// provider is where the query runs.
	// +required
	Provider MetricProvider `json:"provider"`

	// query is a Go text/template that renders to the provider's query language (PromQL). It
	// sees .Namespace, .Target, .Primary, .Canary, .Interval and .Variables; see the docs.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=16384
	Query string `json:"query"`

	// sharedWith lists the namespaces, other than its own, whose Canaries may use this template,
	// and so its credentials; "*" shares it with every namespace. Unset, only Canaries of its
	// own namespace may: a Canary elsewhere that names it is told so in its status.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$`
	SharedWith []string `json:"sharedWith,omitempty"`
}

// MetricProvider is a metrics server.
// +kubebuilder:validation:XValidation:rule="!has(self.insecureSkipVerify) || !self.insecureSkipVerify || self.address.startsWith('https://')",message="insecureSkipVerify only applies to an https:// address"
type MetricProvider struct {
	// type of the provider; only prometheus is supported.
	// +optional
	// +kubebuilder:default=prometheus
	// +kubebuilder:validation:Enum=prometheus
	Type string `json:"type,omitempty"`

	// address of the provider's HTTP API, for example http://prometheus.monitoring:9090.
	// +required
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHost() != ''",message="address must be an http:// or https:// URL with a host, for example http://prometheus.monitoring:9090"
	Address string `json:"address"`

	// secretRef names a Secret in the template's namespace holding credentials: "token" (a
	// bearer token), or "username" and "password" (basic auth), and optionally "ca.crt".
	// +optional
	SecretRef *LocalSecretReference `json:"secretRef,omitempty"`

	// insecureSkipVerify skips the verification of the provider's TLS certificate.
	// +optional
	InsecureSkipVerify bool `json:"insecureSkipVerify,omitempty"`

	// timeout of each query.
	// +optional
	// +kubebuilder:default="10s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('100ms') && duration(self) <= duration('5m')",message="timeout must be within 100ms..5m"
	Timeout *metav1.Duration `json:"timeout,omitempty"`
}

// LocalSecretReference names a Secret in the same namespace.
type LocalSecretReference struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// MetricTemplate is a reusable check: a provider and a query template that Canaries refer to.
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=fmt,categories=fledge
// +kubebuilder:printcolumn:name="Provider",type=string,JSONPath=`.spec.provider.type`
// +kubebuilder:printcolumn:name="Address",type=string,JSONPath=`.spec.provider.address`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type MetricTemplate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the provider and the query.
	// +required
	Spec MetricTemplateSpec `json:"spec"`
}

// MetricTemplateList is a list of MetricTemplates.
// +kubebuilder:object:root=true
type MetricTemplateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []MetricTemplate `json:"items"`
}

func init() {
	SchemeBuilder.Register(&MetricTemplate{}, &MetricTemplateList{})
}
