package controllers_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// writeLog keeps every write the suite's manager sends to the API server, by namespace.
type writeLog struct {
	mu   sync.Mutex
	byNS map[string][]string
}

var managerWrites = &writeLog{byNS: map[string][]string{}}

// wrap counts the writes that leave through rt.
func (l *writeLog) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(req)
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			if ns, rest, ok := strings.Cut(req.URL.Path, "/namespaces/"); ok && ns != "" {
				namespace, resource, _ := strings.Cut(rest, "/")
				l.mu.Lock()
				l.byNS[namespace] = append(l.byNS[namespace], req.Method+" "+resource) // resource/name[/sub]
				l.mu.Unlock()
			}
		}
		return resp, err
	})
}

// in returns the writes sent so far for objects of namespace ns.
func (l *writeLog) in(ns string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.byNS[ns]...)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

var _ = Describe("the API writes of a rollout", func() {
	It("are three for a regular step (the status, the VirtualService, an Event) and none between steps", func(ctx context.Context) {
		const interval = 4 * time.Second
		a := newApp(ctx, withInterval(interval))
		a.setImage(ctx, "example.com/web:v2")
		Eventually(func() int32 { return a.get(ctx).Status.StepIndex }).WithContext(ctx).Should(Equal(int32(2)))

		By("letting step 2's writes land, then counting until step 3's have")
		time.Sleep(interval / 4)
		before := len(managerWrites.in(a.ns))
		Consistently(func() []string { return managerWrites.in(a.ns)[before:] }).WithContext(ctx).
			WithTimeout(interval/4).Should(BeEmpty(), "a reconcile between steps wrote")
		Eventually(func() int32 { return a.get(ctx).Status.StepIndex }).WithContext(ctx).Should(Equal(int32(3)))
		time.Sleep(interval / 4)
		Expect(a.get(ctx).Status.StepIndex).To(Equal(int32(3)), "the window holds one step")
		step := managerWrites.in(a.ns)[before:]
		Expect(step).To(ConsistOf(
			"PATCH canaries/web/status", // the decision, committed
			"PUT virtualservices/web",   // the new weights
			"POST events",               // the transition's Event
		))
	})
})
