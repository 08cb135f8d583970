package analysis

import (
	"strings"
	"testing"
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
	} {
		f.Add(seed)
	}
	data := QueryData{Namespace: "shop", Target: "web", Workload: "web-canary", Canary: "web-canary", Primary: "web-primary", Interval: "1m", Variables: map[string]string{"code": "5.."}}
	f.Fuzz(func(t *testing.T, text string) {
		query, err := renderQuery(text, data)
		if err != nil {
			return
		}
		if !strings.Contains(text, "{{") && query != text {
			t.Errorf("plain text %q rendered as %q", text, query)
		}
	})
}
