package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/workload"
	"fledge.dev/fledge/test/istioxds"
	"fledge.dev/fledge/test/meshsim"
)

// compareRoutes holds the simulator to Istio: for a plain request and one per A/B match and
// tester, the route the simulator takes (its split, mirrors, timeout and retries) must be
// the one istiod sends a sidecar of the Canary's namespace; and while the fault gate runs,
// the calls of a canary pod to the dependency must meet the faults istiod gives that pod's
// sidecar. Both follow the cluster with a small delay, so they are given a while to agree.
func (a *istioAnalysis) compareRoutes(ctx context.Context, canary *fledgev1alpha1.Canary, when string) {
	if canary.Spec.Service.Port == 0 {
		return // on existing subsets the port is the user's Service's; none of these specs has one
	}
	host := canary.Spec.Service.Name
	if host == "" {
		host = canary.Spec.TargetRef.Name
	}
	var requests []meshsim.Request
	for _, h := range append([]http.Header{{}}, matchingHeaders(canary)...) {
		requests = append(requests, meshsim.Request{Namespace: canary.Namespace, Host: host, Path: "/", Headers: h})
	}
	proxy := istioxds.Proxy{Namespace: canary.Namespace, IP: "127.0.0.2"}
	if !a.agree(ctx, proxy, uint32(canary.Spec.Service.Port), requests, when) {
		return
	}
	a.mu.Lock()
	a.compared++
	a.mu.Unlock()

	faults := canary.Spec.Analysis.FaultInjection
	if faults == nil || strings.Contains(faults.Dependency, ".") {
		return
	}
	pod, ok := canaryPod(ctx, canary)
	if !ok {
		return
	}
	caller := istioxds.Proxy{Namespace: canary.Namespace, IP: pod.Status.PodIP, Pod: pod.Name, Labels: pod.Labels}
	call := meshsim.Request{Namespace: canary.Namespace, Host: faults.Dependency, Path: "/", SourceLabels: pod.Labels}
	if a.agree(ctx, caller, 80, []meshsim.Request{call}, when+", a call of canary pod "+pod.Name+" to "+faults.Dependency) &&
		mesh.Resolve(call).Faults != nil {
		a.mu.Lock()
		a.comparedFaults++
		a.mu.Unlock()
	}
}

// agree waits until the simulator routes every request as istiod's routes for proxy do, and
// records a finding when it never does.
func (a *istioAnalysis) agree(ctx context.Context, proxy istioxds.Proxy, port uint32, requests []meshsim.Request, when string) bool {
	var last string
	// istiod has 15 s to push while it answers; the time it does not (a spec hangs it, and the
	// question waits until it is back) does not count, within two minutes in all.
	deadline, giveUp := time.Now().Add(15*time.Second), time.Now().Add(2*time.Minute)
	for time.Now().Before(deadline) && time.Now().Before(giveUp) && ctx.Err() == nil {
		last = ""
		asked := time.Now()
		rc, err := xds.Routes(ctx, proxy, port)
		if took := time.Since(asked); err != nil || took > time.Second {
			deadline = deadline.Add(took)
		}
		if err != nil {
			last = err.Error()
		}
		for _, req := range requests {
			if err != nil {
				break
			}
			fromIstio := istioxds.Resolve(rc, istioxds.Request{Host: req.Host, Path: req.Path, Headers: req.Headers})
			if fromSim := mesh.Resolve(req); !fromIstio.Equal(fromSim) {
				last = fmt.Sprintf("for a request to %s with headers %v, Istio routes %+v and the simulator %+v", req.Host, req.Headers, fromIstio, fromSim)
				break
			}
		}
		if last == "" {
			return true
		}
		time.Sleep(250 * time.Millisecond)
	}
	if ctx.Err() == nil {
		a.record(when + ": the simulator does not route as istiod's configuration does: " + last)
	}
	return false
}

// canaryPod is a running pod of the Canary's canary Deployment.
func canaryPod(ctx context.Context, canary *fledgev1alpha1.Canary) (corev1.Pod, bool) {
	pods := &corev1.PodList{}
	if err := k8s.List(ctx, pods, client.InNamespace(canary.Namespace), client.MatchingLabels{
		workload.LabelCanary: canary.Name, workload.LabelRole: string(workload.Canary),
	}); err != nil {
		return corev1.Pod{}, false
	}
	for _, p := range pods.Items {
		if p.Status.PodIP != "" && p.DeletionTimestamp == nil {
			return p, true
		}
	}
	return corev1.Pod{}, false
}

// matchingHeaders are requests that match the Canary's A/B matches and testers by their
// headers alone, where one can be written without guessing (exact or prefix, no regex, no
// uri or query parameters).
func matchingHeaders(canary *fledgev1alpha1.Canary) []http.Header {
	var out []http.Header
	for _, m := range append(append([]fledgev1alpha1.HTTPMatch(nil), canary.Spec.Analysis.Match...), canary.Spec.Analysis.Testers...) {
		if m.URI != nil || len(m.QueryParams) > 0 || len(m.Headers) == 0 {
			continue
		}
		h, ok := http.Header{}, true
		for name, sm := range m.Headers {
			switch {
			case sm.Exact != nil:
				h.Set(name, *sm.Exact)
			case sm.Prefix != nil:
				h.Set(name, *sm.Prefix+"-x")
			default:
				ok = false
			}
		}
		if ok {
			out = append(out, h)
		}
	}
	return out
}
