package analysis

import (
	"fmt"
	"strings"
)

// A Canary's templateVariables are spliced into a MetricTemplate's query, which may be
// another team's (a template in another namespace, or a cluster-wide one). Spliced as they
// are, a value such as `x"} or vector(1) or up{a="` would close the label matcher it sits in
// and change what the query asks, with the template owner's credentials. So a value reaches
// the template escaped for a PromQL string in double or single quotes (PromQL follows Go's
// escapes): inside either, it stays one label value whatever it holds. A value between
// backticks (a raw string, which reads no escapes) cannot end it either, as it holds no
// backtick, but reads its escapes as written. Outside quotes nothing is safe: templates quote
// their variables.

// promqlQuoted escapes v for a PromQL string between " or ': backslashes doubled, the three
// quotes and every control character as \u escapes, which either kind of string reads back.
func promqlQuoted(v string) string {
	var b strings.Builder
	for _, r := range v {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '"' || r == '\'' || r == '`' || r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// escapedVariables are vars, each value escaped with promqlQuoted.
func escapedVariables(vars map[string]string) map[string]string {
	out := make(map[string]string, len(vars))
	for k, v := range vars {
		out[k] = promqlQuoted(v)
	}
	return out
}
