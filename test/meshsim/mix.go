package meshsim

import (
	"math/rand/v2"
	"net/http"
	"time"
)

// Mix describes the traffic one client sends to one host.
type Mix struct {
	Host      string
	Namespace string
	// RequestsPerSecond is the rate to pace the mix at (see Pacer).
	RequestsPerSecond float64
	// Variants are the kinds of request, drawn by weight; none means GET /.
	Variants []Variant
	// SourceLabels are the client workload's labels.
	SourceLabels map[string]string
	// Gateway is the gateway the requests enter through, "" for sidecar traffic.
	Gateway string
}

// Pacer paces the mix at its RequestsPerSecond from start.
func (m Mix) Pacer(start time.Time) *Pacer {
	return NewPacer(m.RequestsPerSecond, start)
}

// Variant is one kind of request of a Mix.
type Variant struct {
	// Weight is relative to the other variants'; when all are 0 they are equally likely.
	Weight float64
	// Headers are set on the request (names are case-insensitive).
	Headers map[string]string
	// Path defaults to "/"; it may carry a query string.
	Path string
	// Method defaults to GET.
	Method string
}

// Next draws the mix's next request; r also becomes the request's source of randomness.
func (m Mix) Next(r *rand.Rand) Request {
	req := Request{Namespace: m.Namespace, Host: m.Host, Path: "/", SourceLabels: m.SourceLabels, Gateway: m.Gateway, Rand: r}
	if len(m.Variants) == 0 {
		return req
	}
	v := m.Variants[m.pick(sourceOf(r))]
	if v.Path != "" {
		req.Path = v.Path
	}
	req.Method = v.Method
	if len(v.Headers) > 0 {
		req.Headers = make(http.Header, len(v.Headers))
		for name, value := range v.Headers {
			req.Headers.Set(name, value)
		}
	}
	return req
}

func (m Mix) pick(r source) int {
	total := 0.0
	for _, v := range m.Variants {
		total += max(v.Weight, 0)
	}
	if total <= 0 {
		return r.IntN(len(m.Variants))
	}
	x := r.Float64() * total
	for i, v := range m.Variants {
		if x < max(v.Weight, 0) {
			return i
		}
		x -= max(v.Weight, 0)
	}
	return len(m.Variants) - 1 // rounding at the very top
}

// Pacer says how many requests are due at a rate, by the wall clock: however late or seldom
// the caller ticks (a busy machine delays and drops ticks), the count over time keeps to the
// rate. It counts from a fixed point rather than adding up intervals, so that rounding never
// loses a request. Not safe for concurrent use.
type Pacer struct {
	perSecond float64
	since     time.Time
	owedThen  float64 // requests owed at since, a fraction after SetRate
	paid      int     // requests handed out since then
}

// NewPacer starts pacing perSecond requests from start.
func NewPacer(perSecond float64, start time.Time) *Pacer {
	return &Pacer{perSecond: max(perSecond, 0), since: start}
}

// Due is the number of whole requests that fell due since the last call. A clock that went
// back owes nothing until it is past where it was.
func (p *Pacer) Due(now time.Time) int {
	// The nudge keeps float rounding from holding back a request that is due exactly.
	n := int(p.owed(now)+1e-9) - p.paid
	if n <= 0 {
		return 0
	}
	p.paid += n
	return n
}

// SetRate changes the rate from now on; what fell due before now stays owed.
func (p *Pacer) SetRate(perSecond float64, now time.Time) {
	if now.After(p.since) {
		p.owedThen, p.since = p.owed(now)-float64(p.paid), now
		p.paid = 0
	}
	p.perSecond = max(perSecond, 0)
}

// owed is the number of requests due from since to now.
func (p *Pacer) owed(now time.Time) float64 {
	return p.owedThen + p.perSecond*max(now.Sub(p.since).Seconds(), 0)
}
