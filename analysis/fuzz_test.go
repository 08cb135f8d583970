package analysis

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// FuzzRenderQuery feeds user-written query templates to the renderer: whatever the text, it
// returns a query or an error and never panics; text without template actions comes back
// as it was.
func FuzzRenderQuery(f *testing.F) {
	for _, seed := range []string{
		`sum(rate(istio_requests_total{destination_workload="{{ .Workload }}"}[{{ .Interval }}]))`,
		`{{ .Variables.code }}`,
		`{{ .Nope }}`,
		`{{ range .Variables }}{{ . }}{{ end }}`,
		`{{ printf "%q" .Namespace }}`,
		`{{`,
		`}}{{ .Target`,
		// What would take the manager's memory or time without the limits.
		`{{ printf "%0999999999d" 1 }}`,
		`{{ printf "%*d" 999999999 1 }}`,
		`{{ range 1000000000 }}{{ end }}`,
		`{{ range .Variables }}{{ range $.Variables }}{{ range $.Variables }}x{{ end }}{{ end }}{{ end }}`,
		`{{ define "a" }}{{ template "a" . }}{{ template "a" . }}{{ end }}{{ template "a" . }}`,
		`{{ $a := "xxxxxxxxxxxxxxxx" }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}{{ $a = print $a $a }}`,
		`{{ printf "%[1]*d" 999999 1 }}{{ printf "%.[1]*f" 999999 1.5 }}`,
		`{{ range .Variables }}{{ range $.Variables }}{{ $.Variables }}{{ $.Variables }}{{ $.Variables }}{{ end }}{{ end }}`,
	} {
		f.Add(seed)
	}
	data := QueryData{Namespace: "shop", Target: "web", Workload: "web-canary", Canary: "web-canary", Primary: "web-primary", Interval: "1m", Variables: map[string]string{"code": "5.."}}
	for i := range 32 {
		data.Variables[fmt.Sprintf("v%02d", i)] = strings.Repeat("x", 1000)
	}
	f.Fuzz(func(t *testing.T, text string) {
		start := time.Now()
		query, err := renderQuery(text, data)
		if took := time.Since(start); took > 2*MaxRenderTime {
			t.Errorf("rendering %q took %s", text, took)
		}
		if err != nil {
			return
		}
		if len(query) > MaxRenderedQuery {
			t.Errorf("%q rendered %d bytes", text, len(query))
		}
		if !strings.Contains(text, "{{") && query != text {
			t.Errorf("plain text %q rendered as %q", text, query)
		}
	})
}

func TestRenderQueryRefusesWhatWouldBeUnbounded(t *testing.T) {
	data := QueryData{Variables: map[string]string{"a": "1", "b": "2"}}
	for _, text := range []string{
		`{{ printf "%0999999999d" 1 }}`,
		`{{ printf "%.*f" 999999999 1.0 }}`,
		`{{ range 1000000000 }}{{ end }}`,
		`{{ range .Variables }}{{ range $.Variables }}{{ range $.Variables }}{{ end }}{{ end }}{{ end }}`,
		`{{ define "a" }}{{ template "a" . }}{{ end }}{{ template "a" . }}`,
		`{{ block "b" . }}x{{ end }}`,
		`{{ $a := "xxxxxxxxxxxxxxxx" }}` + strings.Repeat(`{{ $a = print $a $a }}`, 40),
		`{{ printf "%[1]*d" 1000000 1 }}`,
		strings.Repeat(`{{ printf "%[1]v%[1]v%[1]v%[1]v%[1]v%[1]v%[1]v%[1]v" .Variables }}`, 500),
		strings.Repeat(`{{ .Variables }}`, 10000),
	} {
		if _, err := renderQuery(text, data); !errors.Is(err, errRenderLimit) {
			t.Errorf("%.60q: err = %v, want a refusal for the limits", text, err)
		}
	}
	for _, text := range []string{
		`{{ range $k, $v := .Variables }}{{ $k }}={{ $v }},{{ end }}`,
		`{{ printf "%q" "x" }} {{ printf "%5.2f" 1.5 }}`,
		`{{ if .Variables.a }}{{ .Variables.a }}{{ else }}0{{ end }}`,
	} {
		if _, err := renderQuery(text, data); err != nil {
			t.Errorf("%q: %v", text, err)
		}
	}
}
