package fence

import (
	"fmt"
	"net/http"
	"strings"
)

// WrapTransport fences the writes sent through rt: a request that changes something (any
// method but GET and HEAD, reviews aside) leaves only while f allows it. Wrap the manager's connection with
// it (rest.Config.Wrap), not the leader elector's, which must go on renewing or giving up the
// lease: so every write of every part of the manager (the controllers, the dispatcher's
// records, the events) stops at once when the lease lapses.
func WrapTransport(f Fence) func(http.RoundTripper) http.RoundTripper {
	return func(rt http.RoundTripper) http.RoundTripper {
		return fenced{next: rt, fence: f}
	}
}

type fenced struct {
	next  http.RoundTripper
	fence Fence
}

func (t fenced) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead && !isReview(req.URL.Path) {
		if err := t.fence.Check(req.Context()); err != nil {
			return nil, fmt.Errorf("%s %s not sent: %w", req.Method, req.URL.Path, err)
		}
	}
	return t.next.RoundTrip(req)
}

// isReview tells the TokenReviews and SubjectAccessReviews the metrics endpoint asks for, on
// every replica: they change nothing.
func isReview(path string) bool {
	return strings.HasPrefix(path, "/apis/authentication.k8s.io/") || strings.HasPrefix(path, "/apis/authorization.k8s.io/")
}
