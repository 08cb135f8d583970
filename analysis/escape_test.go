package analysis

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzPromQLQuoted: whatever a Canary puts in a template variable, between quotes in the
// query it reads back as exactly that value (Go's rules, which PromQL's strings follow), and
// holds no quote, newline or backtick that could end the string it sits in.
func FuzzPromQLQuoted(f *testing.F) {
	for _, seed := range []string{"", "5..", `x"} or vector(1) or up{a="`, `x'} or vector(1) or up{a='`, `\`, `\"`, "a\nb", "tab\tand\x00nul", "`raw`", "ünïcödé ✓"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if !utf8.ValidString(v) {
			t.Skip("values come from JSON: valid UTF-8")
		}
		q := promqlQuoted(v)
		if strings.ContainsAny(q, "\"'\n`") {
			t.Fatalf("promqlQuoted(%q) = %q holds a character that ends a string", v, q)
		}
		got, err := strconv.Unquote(`"` + q + `"`)
		if err != nil {
			t.Fatalf("promqlQuoted(%q) = %q does not read back: %v", v, q, err)
		}
		if got != v {
			t.Fatalf("promqlQuoted(%q) reads back as %q", v, got)
		}
	})
}

func TestTemplateVariablesStayOneLabelValue(t *testing.T) {
	hostile := `x"} or vector(1) or up{a="`
	data := QueryData{Namespace: "shop", Workload: "web-canary", Interval: "1m", Variables: escapedVariables(map[string]string{"route": hostile})}
	got, err := renderQuery(`sum(rate(istio_requests_total{destination_workload="{{ .Workload }}",route="{{ .Variables.route }}"}[{{ .Interval }}]))`, data)
	if err != nil {
		t.Fatal(err)
	}
	want := `sum(rate(istio_requests_total{destination_workload="web-canary",route="x\u0022} or vector(1) or up{a=\u0022"}[1m]))`
	if got != want {
		t.Errorf("rendered\n%s\nwant\n%s", got, want)
	}
}
