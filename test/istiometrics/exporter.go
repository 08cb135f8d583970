// Package istiometrics serves Istio-shaped metrics (istio_requests_total and the
// istio_request_duration_milliseconds histogram, with the labels Istio's destination reporter
// sets) for workloads whose traffic a test describes, so that a real Prometheus can scrape them
// and Fledge's real queries can judge them.
package istiometrics

import (
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Labels of the standard Istio metrics.
var labels = []string{"reporter", "source_workload", "destination_workload", "destination_workload_namespace", "destination_service", "response_code"}

// Istio's default buckets for request durations, in milliseconds.
var durationBuckets = []float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000}

// Traffic describes what one workload serves.
type Traffic struct {
	// RequestsPerSecond it serves.
	RequestsPerSecond float64
	// ErrorRate is the share of 5xx responses, 0..1.
	ErrorRate float64
	// Latency of each request (a little jitter is added).
	Latency time.Duration
}

// Recorder counts requests into the Istio metrics.
type Recorder struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	registry *prometheus.Registry
}

// NewRecorder returns a Recorder with its own registry.
func NewRecorder() *Recorder {
	r := &Recorder{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "istio_requests_total", Help: "Requests, as Istio's destination reporter counts them."}, labels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "istio_request_duration_milliseconds", Help: "Request durations in milliseconds.", Buckets: durationBuckets}, labels),
		registry: prometheus.NewRegistry(),
	}
	r.registry.MustRegister(r.requests, r.duration)
	return r
}

// Record counts one request served by workload in namespace.
func (r *Recorder) Record(namespace, workload, service string, code int, latency time.Duration) {
	values := []string{"destination", "unknown", workload, namespace, service, strconv.Itoa(code)}
	r.requests.WithLabelValues(values...).Inc()
	r.duration.WithLabelValues(values...).Observe(float64(latency) / float64(time.Millisecond))
}

// Handler serves the metrics for Prometheus.
func (r *Recorder) Handler() http.Handler {
	return promhttp.HandlerFor(r.registry, promhttp.HandlerOpts{})
}

// Exporter generates traffic for workloads and serves its metrics on a loopback port.
type Exporter struct {
	*Recorder
	Address string

	mu      sync.Mutex
	traffic map[[2]string]Traffic
	owed    map[[2]string]float64
	server  *http.Server
	stop    chan struct{}
	done    chan struct{}
}

// StartExporter serves the metrics on a free loopback port and generates traffic every tick.
func StartExporter() (*Exporter, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	e := &Exporter{
		Recorder: NewRecorder(), Address: ln.Addr().String(),
		traffic: map[[2]string]Traffic{}, owed: map[[2]string]float64{},
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", e.Handler())
	e.server = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = e.server.Serve(ln) }()
	go e.generate(100 * time.Millisecond)
	return e, nil
}

// Set makes workload in namespace serve t from now on.
func (e *Exporter) Set(namespace, workload string, t Traffic) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.traffic[[2]string{namespace, workload}] = t
}

func (e *Exporter) generate(tick time.Duration) {
	defer close(e.done)
	t := time.NewTicker(tick)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
		}
		// By the clock, not by the tick: a busy machine delays and drops ticks.
		now := time.Now()
		elapsed := now.Sub(last).Seconds()
		last = now
		e.mu.Lock()
		for key, tr := range e.traffic {
			e.owed[key] += tr.RequestsPerSecond * elapsed
			for ; e.owed[key] >= 1; e.owed[key]-- {
				code := 200
				if rand.Float64() < tr.ErrorRate {
					code = 503
				}
				jitter := time.Duration(rand.Int64N(int64(tr.Latency)/10 + 1))
				e.Record(key[0], key[1], key[1], code, tr.Latency+jitter)
			}
		}
		e.mu.Unlock()
	}
}

// Stop ends the traffic and the server.
func (e *Exporter) Stop() error {
	close(e.stop)
	<-e.done
	return e.server.Close()
}
