package meshsim

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	istioapiv1 "istio.io/api/networking/v1"
)

// defaultBackoff is Envoy's base interval between retries.
const defaultBackoff = 25 * time.Millisecond

// retryPolicy is an HTTPRetry as istiod hands it to Envoy.
type retryPolicy struct {
	retries             int
	perTryTimeout       time.Duration
	on                  map[string]bool // Envoy retry-on conditions
	codes               []int           // retriable status codes
	backoff             time.Duration
	ignorePreviousHosts bool
}

// compileRetry mirrors istiod: no policy means its default (2 retries on connection-level
// failures, which never happen here, so in effect none); 0 attempts disables retries; status
// codes in retryOn become retriable-status-codes.
func compileRetry(in *istioapiv1.HTTPRetry) retryPolicy {
	p := retryPolicy{
		retries:             2,
		on:                  conditions("connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"),
		backoff:             defaultBackoff,
		ignorePreviousHosts: true,
	}
	if in == nil {
		return p
	}
	if in.GetAttempts() <= 0 {
		return retryPolicy{}
	}
	p.retries = int(in.GetAttempts())
	if in.GetRetryOn() != "" {
		p.on = map[string]bool{}
		for _, part := range strings.Split(in.GetRetryOn(), ",") {
			part = strings.TrimSpace(part)
			if code, err := strconv.Atoi(part); err == nil && http.StatusText(code) != "" {
				p.codes = append(p.codes, code)
				p.on["retriable-status-codes"] = true
			} else if part != "" {
				p.on[part] = true
			}
		}
	}
	if in.GetPerTryTimeout() != nil {
		p.perTryTimeout = in.GetPerTryTimeout().AsDuration()
	}
	if in.GetRetryIgnorePreviousHosts() != nil {
		p.ignorePreviousHosts = in.GetRetryIgnorePreviousHosts().GetValue()
	}
	if in.GetBackoff() != nil {
		p.backoff = in.GetBackoff().AsDuration()
	}
	return p
}

func conditions(list string) map[string]bool {
	out := map[string]bool{}
	for _, c := range strings.Split(list, ",") {
		out[c] = true
	}
	return out
}

// retriable reports whether Envoy retries an attempt that answered code, or that the per-try
// timeout cut short (which Envoy counts as a reset).
func (p retryPolicy) retriable(code int, timedOut bool) bool {
	switch {
	case timedOut:
		return p.on["5xx"] || p.on["gateway-error"] || p.on["reset"]
	case code >= 500 && p.on["5xx"]:
		return true
	case (code == 502 || code == 503 || code == 504) && p.on["gateway-error"]:
		return true
	case code == 409 && p.on["retriable-4xx"]:
		return true
	}
	return p.on["retriable-status-codes"] && containsInt(p.codes, code)
}

// backoffBefore is Envoy's jittered exponential back-off before retry n (1-based): uniform in
// [0, (2^n-1)·base), capped at ten times the base.
func (p retryPolicy) backoffBefore(n int, r source) time.Duration {
	upper := p.backoff * time.Duration(int64(1)<<min(n, 20)-1)
	upper = min(upper, 10*p.backoff)
	return time.Duration(r.Float64() * float64(upper))
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
