package v1alpha1_test

import (
	"strings"
	"testing"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

func TestRouteErrorsNameTheFieldOfEachRegexThatIsNotRE2(t *testing.T) {
	bad, good, lookahead := "([", "^(qa|ops)$", "^(?!admin).*$"
	spec := fledgev1alpha1.CanarySpec{Analysis: fledgev1alpha1.CanaryAnalysis{
		Match: []fledgev1alpha1.HTTPMatch{
			{Headers: map[string]fledgev1alpha1.StringMatch{"x-team": {Regex: &good}}},
			{Headers: map[string]fledgev1alpha1.StringMatch{"x-user": {Regex: &bad}}, URI: &fledgev1alpha1.StringMatch{Regex: &lookahead}},
		},
		Testers: []fledgev1alpha1.HTTPMatch{{QueryParams: map[string]fledgev1alpha1.StringMatch{"qa": {Regex: &bad}}}},
	}}
	errs := spec.RouteErrors()
	var fields []string
	for _, e := range errs {
		fields = append(fields, e.Field)
	}
	want := []string{
		"spec.analysis.match[1].headers[x-user].regex",
		// RE2 has no lookahead, though PCRE does: Envoy would refuse it.
		"spec.analysis.match[1].uri.regex",
		"spec.analysis.testers[0].queryParams[qa].regex",
	}
	if strings.Join(fields, " ") != strings.Join(want, " ") {
		t.Fatalf("RouteErrors named %v, want %v", fields, want)
	}
	if msg := errs[0].Error(); !strings.Contains(msg, "not an RE2 regular expression") || !strings.Contains(msg, "fix it") {
		t.Errorf("the message does not say what is wrong and what to do: %s", msg)
	}
}

func TestRouteErrorsAcceptExactPrefixAndRE2(t *testing.T) {
	exact, re := "insider", "^(.*?;)?(canary=always)(;.*)?$"
	spec := fledgev1alpha1.CanarySpec{Analysis: fledgev1alpha1.CanaryAnalysis{
		Match: []fledgev1alpha1.HTTPMatch{{Headers: map[string]fledgev1alpha1.StringMatch{"x-canary": {Exact: &exact}, "cookie": {Regex: &re}}}},
	}}
	if errs := spec.RouteErrors(); len(errs) != 0 {
		t.Fatalf("RouteErrors refused a valid spec: %v", errs)
	}
}
