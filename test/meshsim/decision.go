package meshsim

import (
	"time"

	"fledge.dev/fledge/test/istiometrics"
)

// Envoy response flags, as in its access log, for why a request ended as it did.
const (
	FlagNoHealthyUpstream = "UH" // the destination has no ready endpoint
	FlagNoClusterFound    = "NC" // the destination host or subset does not exist
	FlagNoRoute           = "NR" // no route matched
	FlagUpstreamTimeout   = "UT" // the route's timeout (or the per-try timeout) passed
	FlagFaultInjected     = "FI" // an abort fault answered
	FlagDelayInjected     = "DI" // a delay fault held the request
)

// Decision is what became of one request.
type Decision struct {
	// Code and Latency are what the client sees.
	Code    int
	Latency time.Duration
	// Served is the attempt whose answer the client got (or that the route's timeout cut
	// short); nil when no pod was reached.
	Served *Serve
	// Retries are the earlier attempts, each seen by a pod's proxy.
	Retries []Serve
	// Mirrored are the copies of the request a mirror policy sent; their answers are discarded.
	Mirrored []Serve
	// Route is the name of the HTTP route taken, "" for none or an unnamed one.
	Route string
	// VirtualService is the namespace/name of the VirtualService that routed, "" for none.
	VirtualService string
	// Flags are Envoy's response flags, comma-separated, "" when nothing went wrong in the proxy.
	Flags string
	// ResponseHeaders are the headers the route and its destination set on the answer.
	ResponseHeaders map[string]string
	// Calls are the requests the serving pods made on the way (see AnnotationCalls).
	Calls []Decision
}

// Serve is one request as a pod's proxy saw it: what Istio's destination reporter counts.
type Serve struct {
	Namespace string
	Workload  string
	Pod       string
	// Service is the destination service's FQDN, Istio's destination_service.
	Service string
	// Code is 0 when the client's proxy gave up first (a timeout): the server's proxy then
	// records a downstream disconnect, not a response.
	Code    int
	Latency time.Duration
}

// Record counts what Istio's destination reporter would: every attempt and mirrored copy that
// reached a pod. An aborted, unroutable or unserved request reached none and counts nowhere.
func (d Decision) Record(r *istiometrics.Recorder) {
	for _, s := range d.Retries {
		s.Record(r)
	}
	if d.Served != nil {
		d.Served.Record(r)
	}
	for _, s := range d.Mirrored {
		s.Record(r)
	}
	for _, c := range d.Calls {
		c.Record(r)
	}
}

// Record counts one served request with reporter="destination".
func (s Serve) Record(r *istiometrics.Recorder) {
	r.Record(s.Namespace, s.Workload, s.Service, s.Code, s.Latency)
}

func (d *Decision) flag(f string) {
	if d.Flags == "" {
		d.Flags = f
	} else {
		d.Flags += "," + f
	}
}
