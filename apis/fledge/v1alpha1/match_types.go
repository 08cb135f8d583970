package v1alpha1

// HTTPMatch selects requests by their headers and URI; all the conditions of one HTTPMatch
// must hold. It maps onto Istio's HTTPMatchRequest.
// +kubebuilder:validation:XValidation:rule="has(self.headers) || has(self.uri) || has(self.queryParams)",message="a match needs at least one of headers, uri or queryParams"
// +kubebuilder:validation:XValidation:rule="!has(self.headers) || self.headers.all(k, k.matches('^[-!#$%&\\x27*+.^_`|~0-9A-Za-z]+$') || k in [':method', ':scheme', ':authority', ':path', ':status'])",message="each header name must be an HTTP token (letters, digits and any of - ! # $ % & ' * + . ^ _ ` | ~), for example x-canary: an empty name matches nothing and Istio refuses it"
// +kubebuilder:validation:XValidation:rule="!has(self.headers) || self.headers.all(k, !has(self.headers[k].prefix) || self.headers[k].prefix.size() > 0)",message="a header's prefix must not be empty (Istio refuses it): to match any value, use regex \".+\""
// +kubebuilder:validation:XValidation:rule="!has(self.queryParams) || self.queryParams.all(k, !has(self.queryParams[k].prefix) || self.queryParams[k].prefix.size() > 0)",message="a query parameter's prefix must not be empty (Istio refuses it): to match any value, use regex \".+\""
type HTTPMatch struct {
	// headers to match, by header name (lower case). Cookies are matched through the "cookie"
	// header, for example regex "^(.*?;)?(canary=always)(;.*)?$".
	// +optional
	// +kubebuilder:validation:MaxProperties=16
	Headers map[string]StringMatch `json:"headers,omitempty"`

	// uri to match.
	// +optional
	URI *StringMatch `json:"uri,omitempty"`

	// queryParams to match, by parameter name.
	// +optional
	// +kubebuilder:validation:MaxProperties=16
	QueryParams map[string]StringMatch `json:"queryParams,omitempty"`
}

// StringMatch matches a string exactly, by prefix, or by an RE2 regular expression.
// +kubebuilder:validation:XValidation:rule="[has(self.exact), has(self.prefix), has(self.regex)].filter(x, x).size() == 1",message="a string match needs exactly one of exact, prefix or regex"
// +kubebuilder:validation:XValidation:rule="!has(self.regex) || self.regex.size() > 0",message="regex must not be empty (Istio refuses it): to match any value, use \".*\""
type StringMatch struct {
	// exact value.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Exact *string `json:"exact,omitempty"`

	// prefix of the value.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Prefix *string `json:"prefix,omitempty"`

	// regex the value must match in full (RE2 syntax).
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Regex *string `json:"regex,omitempty"`
}
