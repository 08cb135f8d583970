//go:build faults

package main

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
)

// Built with -tags faults for the fault suite only (test/chaos): the manager logs every write
// it sends to the API server, and with FLEDGE_FAULT_EXIT_AFTER_WRITES=N it kills itself
// (SIGKILL, as the kernel's OOM killer or a node failure would) right after the answer to its
// N-th write, so that a suite can stop it between any two writes of one reconcile. With
// FLEDGE_FAULT_UNFENCED set it runs without its fence (a check of the suite, never a mode).
func init() {
	faultUnfenced = os.Getenv("FLEDGE_FAULT_UNFENCED") != ""
	exitAfter, _ := strconv.ParseInt(os.Getenv("FLEDGE_FAULT_EXIT_AFTER_WRITES"), 10, 64)
	faultHooks = func(cfg *rest.Config) {
		var writes atomic.Int64
		cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
			return roundTripFunc(func(req *http.Request) (*http.Response, error) {
				if req.Method == http.MethodGet || req.Method == http.MethodHead {
					return rt.RoundTrip(req)
				}
				// The time the write left, so that one sent before a freeze is told from one after.
				start := time.Now()
				resp, err := rt.RoundTrip(req)
				if strings.Contains(req.URL.Path, "/apis/coordination.k8s.io/") {
					// The elector's renewals are not the writes a kill is aimed between.
					fmt.Fprintf(os.Stderr, "fledge-fault: lease %s %s\n", start.UTC().Format(time.RFC3339Nano), req.Method)
					return resp, err
				}
				n := writes.Add(1)
				code := 0
				if resp != nil {
					code = resp.StatusCode
				}
				fmt.Fprintf(os.Stderr, "fledge-fault: write %d %s %s %s %d\n", n, start.UTC().Format(time.RFC3339Nano), req.Method, req.URL.Path, code)
				if exitAfter > 0 && n >= exitAfter {
					fmt.Fprintf(os.Stderr, "fledge-fault: killed after write %d\n", n)
					_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				}
				return resp, err
			})
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
