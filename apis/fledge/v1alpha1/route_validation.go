package v1alpha1

import (
	"regexp"
	"sort"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// RouteErrors lists what in the spec Istio would refuse in the routes Fledge writes and the
// API server's schema cannot tell: regular expressions that do not compile as RE2, Istio's
// and Envoy's syntax. The manager checks it before it writes any route; admission checks
// the rest.
func (s *CanarySpec) RouteErrors() field.ErrorList {
	analysis := field.NewPath("spec", "analysis")
	var errs field.ErrorList
	for i := range s.Analysis.Match {
		errs = append(errs, s.Analysis.Match[i].regexErrors(analysis.Child("match").Index(i))...)
	}
	for i := range s.Analysis.Testers {
		errs = append(errs, s.Analysis.Testers[i].regexErrors(analysis.Child("testers").Index(i))...)
	}
	return errs
}

func (m *HTTPMatch) regexErrors(path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, name := range sortedKeys(m.Headers) {
		errs = append(errs, m.Headers[name].regexErrors(path.Child("headers").Key(name))...)
	}
	if m.URI != nil {
		errs = append(errs, m.URI.regexErrors(path.Child("uri"))...)
	}
	for _, name := range sortedKeys(m.QueryParams) {
		errs = append(errs, m.QueryParams[name].regexErrors(path.Child("queryParams").Key(name))...)
	}
	return errs
}

func (sm StringMatch) regexErrors(path *field.Path) field.ErrorList {
	if sm.Regex == nil {
		return nil
	}
	// Go's regexp is RE2, as Istio's validation and Envoy are.
	if _, err := regexp.Compile(*sm.Regex); err != nil {
		return field.ErrorList{field.Invalid(path.Child("regex"), *sm.Regex,
			"not an RE2 regular expression ("+err.Error()+"): fix it, or match with exact or prefix")}
	}
	return nil
}

func sortedKeys(m map[string]StringMatch) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
