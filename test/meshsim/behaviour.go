package meshsim

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// The pod annotations that describe how a version behaves. They come from the pod template,
// so rolling a Deployment out changes them.
const (
	// AnnotationErrorRate is the share of requests answered 500, 0..1.
	AnnotationErrorRate = "meshsim.fledge.dev/error-rate"
	// AnnotationLatency is the median latency, a Go duration.
	AnnotationLatency = "meshsim.fledge.dev/latency"
	// AnnotationLatencyP99 is the 99th percentile latency, a Go duration; twice the median when absent.
	AnnotationLatencyP99 = "meshsim.fledge.dev/latency-p99"
	// AnnotationCalls lists the hosts (comma-separated) each request calls on its way, through
	// the mesh, as the calling pod.
	AnnotationCalls = "meshsim.fledge.dev/calls"
	// AnnotationToleratesFailures, "true", makes a version answer 200 from a fallback when a
	// call fails, waiting at most CallTimeout for it; otherwise a failed call is a 500 and a
	// slow one makes the answer as slow.
	AnnotationToleratesFailures = "meshsim.fledge.dev/tolerates-failures"
)

// CallTimeout is how long a version that tolerates failures waits for a call.
const CallTimeout = 100 * time.Millisecond

// DefaultLatency is the median latency of a pod that does not say.
const DefaultLatency = 10 * time.Millisecond

// z99 is the 99th percentile of the standard normal distribution.
const z99 = 2.3263478740408408

// maxLatency bounds a draw so that a wide distribution cannot overflow a Duration.
const maxLatency = time.Hour

// Behaviour is how a version answers: a share of 500s and a log-normal latency.
type Behaviour struct {
	ErrorRate float64
	Median    time.Duration
	P99       time.Duration
	// Calls are the hosts each request calls; ToleratesFailures says how a failed call ends.
	Calls             []string
	ToleratesFailures bool
}

// BehaviourOf reads a pod's annotations. Missing or malformed values fall back to no errors
// and a 10ms median, each on its own; the p99 falls back to twice the median.
func BehaviourOf(annotations map[string]string) Behaviour {
	b := Behaviour{Median: DefaultLatency}
	if v, err := strconv.ParseFloat(annotations[AnnotationErrorRate], 64); err == nil && v >= 0 && v <= 1 {
		b.ErrorRate = v
	}
	if d, err := time.ParseDuration(annotations[AnnotationLatency]); err == nil && d >= 0 {
		b.Median = d
	}
	b.P99 = 2 * b.Median
	if d, err := time.ParseDuration(annotations[AnnotationLatencyP99]); err == nil && d >= b.Median {
		b.P99 = d
	}
	for _, host := range strings.Split(annotations[AnnotationCalls], ",") {
		if host = strings.TrimSpace(host); host != "" {
			b.Calls = append(b.Calls, host)
		}
	}
	b.ToleratesFailures = annotations[AnnotationToleratesFailures] == "true"
	return b
}

// Draw answers one request: its status code and how long it took.
func (b Behaviour) Draw(r *rand.Rand) (code int, latency time.Duration) {
	return b.draw(sourceOf(r))
}

func (b Behaviour) draw(r source) (int, time.Duration) {
	code := 200
	if r.Float64() < b.ErrorRate {
		code = 500
	}
	return code, b.latency(r)
}

// latency draws from the log-normal whose median and 99th percentile are those of b.
func (b Behaviour) latency(r source) time.Duration {
	if b.Median <= 0 {
		return 0
	}
	sigma := 0.0
	if b.P99 > b.Median {
		sigma = math.Log(float64(b.P99)/float64(b.Median)) / z99
	}
	d := float64(b.Median) * math.Exp(sigma*r.NormFloat64())
	if d > float64(maxLatency) {
		return maxLatency
	}
	return time.Duration(d)
}

// source is the randomness the simulator needs; *rand.Rand has it.
type source interface {
	Float64() float64
	IntN(n int) int
	NormFloat64() float64
}

// globalSource draws from math/rand/v2's goroutine-safe top-level functions, for callers that
// do not care about reproducibility.
type globalSource struct{}

func (globalSource) Float64() float64     { return rand.Float64() }
func (globalSource) IntN(n int) int       { return rand.IntN(n) }
func (globalSource) NormFloat64() float64 { return rand.NormFloat64() }

func sourceOf(r *rand.Rand) source {
	if r == nil {
		return globalSource{}
	}
	return r
}
