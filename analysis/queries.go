package analysis

import (
	"fmt"
	"time"

	"github.com/prometheus/common/model"
)

// Built-in checks, over the standard Istio metrics reported by the destination workload.
const (
	BuiltinSuccessRate = "request-success-rate"
	BuiltinDuration    = "request-duration"
)

// QueryData are the variables a MetricTemplate's query can use.
type QueryData struct {
	// Namespace of the Canary.
	Namespace string
	// Target is the name of the Deployment the Canary rolls out.
	Target string
	// Workload is the workload being measured: the canary, or the primary when the metric is
	// compared with it. Write templates against Workload to make them comparable.
	Workload string
	// Canary and Primary are the names of the two workloads.
	Canary, Primary string
	// Interval is the window, in Prometheus' duration syntax ("1m", "30s").
	Interval string
	// Variables are the Canary's templateVariables, escaped for a PromQL string in quotes
	// (see escapedVariables): write them between quotes, as label values.
	Variables map[string]string
}

// window formats a duration in Prometheus' syntax.
func window(d time.Duration) string { return model.Duration(d).String() }

func istioSelector(namespace, workload string) string {
	return fmt.Sprintf(`reporter="destination",destination_workload_namespace=%q,destination_workload=%q`, namespace, workload)
}

// builtinQuery is the PromQL of a built-in check.
func builtinQuery(name string, d QueryData) (string, error) {
	sel := istioSelector(d.Namespace, d.Workload)
	switch name {
	case BuiltinSuccessRate:
		// A workload whose every answer was a 5xx has no non-5xx series at all: without the
		// "or", the numerator would be empty and the rate read as no data, not as 0 %. With no
		// requests at all the denominator stays empty: that is no data, and waits.
		return fmt.Sprintf(`(sum(rate(istio_requests_total{%s,response_code!~"5.."}[%s])) or on() vector(0)) / sum(rate(istio_requests_total{%s}[%s])) * 100`,
			sel, d.Interval, sel, d.Interval), nil
	case BuiltinDuration:
		return fmt.Sprintf(`histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{%s}[%s])))`,
			sel, d.Interval), nil
	}
	return "", fmt.Errorf("unknown built-in check %q", name)
}

// requestsQuery counts the requests a workload served in the window.
func requestsQuery(d QueryData) string {
	return fmt.Sprintf(`sum(increase(istio_requests_total{%s}[%s]))`, istioSelector(d.Namespace, d.Workload), d.Interval)
}
