package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// istioAnalysis runs Istio's analyzers (istioctl analyze) over a Canary's namespace each time
// one of its rollouts takes a step, and keeps what they warn about: what a webhook cannot
// judge alone, such as a route to a subset no DestinationRule defines, or two VirtualServices
// for one host. At the same steps it holds the simulator's routes to istiod's (compareRoutes).
type istioAnalysis struct {
	mu       sync.Mutex
	findings []string
	runs     int
	// compared counts the steps at which the simulator was found to route as istiod does;
	// comparedFaults those at which it met the same injected faults.
	compared, comparedFaults int
	// queue holds the Canaries whose step changed and are not analysed yet, by key; order
	// keeps them first come, first served. A Canary that moves again before its turn is
	// analysed once, in its latest state: the analysis reads the cluster as it is then.
	queue map[string]*fledgev1alpha1.Canary
	order []string
	busy  bool
}

// analysisMessage is one message of `istioctl analyze -o json`.
type analysisMessage struct {
	Code    string `json:"code"`
	Level   string `json:"level"`
	Origin  string `json:"origin"`
	Message string `json:"message"`
}

// watch analyses after every change of a Canary's phase, weight or iteration, until ctx ends.
func (a *istioAnalysis) watch(ctx context.Context, c client.WithWatch) error {
	w, err := c.Watch(ctx, &fledgev1alpha1.CanaryList{})
	if err != nil {
		return err
	}
	a.queue = map[string]*fledgev1alpha1.Canary{}
	go func() {
		steps := map[string]string{}
		for ctx.Err() == nil {
			for ev := range w.ResultChan() {
				canary, ok := ev.Object.(*fledgev1alpha1.Canary)
				if !ok || ev.Type == watch.Deleted {
					continue
				}
				key := canary.Namespace + "/" + canary.Name
				step := stepOf(canary)
				if steps[key] != step {
					steps[key] = step
					a.enqueue(key, canary)
				}
			}
			w.Stop()
			// The API server ends watches after a while: watch again.
			for ctx.Err() == nil {
				if w, err = c.Watch(ctx, &fledgev1alpha1.CanaryList{}); err == nil {
					break
				}
				time.Sleep(time.Second)
			}
		}
	}()
	go a.work(ctx)
	return nil
}

func stepOf(canary *fledgev1alpha1.Canary) string {
	return fmt.Sprintf("%s %d %d", canary.Status.Phase, canary.Status.CanaryWeight, canary.Status.Iterations)
}

func (a *istioAnalysis) enqueue(key string, canary *fledgev1alpha1.Canary) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, queued := a.queue[key]; !queued {
		a.order = append(a.order, key)
	}
	a.queue[key] = canary
}

// work analyses the queued Canaries one at a time.
func (a *istioAnalysis) work(ctx context.Context) {
	for ctx.Err() == nil {
		a.mu.Lock()
		if len(a.order) == 0 {
			a.busy = false
			a.mu.Unlock()
			time.Sleep(50 * time.Millisecond)
			continue
		}
		key := a.order[0]
		a.order = a.order[1:]
		canary := a.queue[key]
		delete(a.queue, key)
		a.busy = true
		a.mu.Unlock()

		when := key + " at " + stepOf(canary)
		a.analyze(ctx, canary.Namespace, when)
		if canary.Status.Phase != "" {
			a.compareRoutes(ctx, canary, when)
		}
	}
}

// drain waits until every step seen so far was analysed, so that what the analysis finds is
// told to the spec that caused it.
func (a *istioAnalysis) drain(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		a.mu.Lock()
		idle := len(a.order) == 0 && !a.busy
		a.mu.Unlock()
		if idle {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	a.record(fmt.Sprintf("the analysis of the rollouts' steps did not catch up within %s", timeout))
}

func (a *istioAnalysis) analyze(ctx context.Context, namespace, when string) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, stack.Assets.Istioctl(), "analyze",
		"--kubeconfig="+stack.KubeconfigPath, "--namespace="+namespace,
		"--output=json", "--output-threshold=Warning")
	cmd.Env = append(os.Environ(), "KUBECONFIG=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// istioctl exits non-zero when it finds an error: the output says what.
	runErr := cmd.Run()
	var messages []analysisMessage
	if err := json.Unmarshal(stdout.Bytes(), &messages); err != nil {
		if ctx.Err() != nil {
			return // the suite is ending
		}
		a.record(fmt.Sprintf("%s: istioctl analyze did not answer in JSON (%v, %v): %s%s", when, runErr, err, stdout.String(), stderr.String()))
		return
	}
	a.mu.Lock()
	a.runs++
	a.mu.Unlock()
	for _, m := range messages {
		a.record(fmt.Sprintf("%s: %s %s %s: %s", when, m.Level, m.Code, m.Origin, m.Message))
	}
}

func (a *istioAnalysis) record(finding string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.findings = append(a.findings, finding)
}

// faultsCompared is how many steps since the last take had the simulator and istiod agree on
// the faults injected into a canary pod's calls.
func (a *istioAnalysis) faultsCompared() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.comparedFaults
}

// take returns what was found since the last call, how many analyses ran and at how many
// steps the simulator was compared with istiod.
func (a *istioAnalysis) take() (findings []string, runs, compared int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	findings, runs, compared = a.findings, a.runs, a.compared
	a.findings, a.runs, a.compared, a.comparedFaults = nil, 0, 0, 0
	return findings, runs, compared
}

var istioAnalyzers = &istioAnalysis{}

var _ = AfterEach(func() {
	// A step just taken may not have reached the watch yet.
	time.Sleep(500 * time.Millisecond)
	istioAnalyzers.drain(2 * time.Minute)
	findings, runs, compared := istioAnalyzers.take()
	GinkgoWriter.Printf("Istio's analyzers ran %d times during this spec; the simulator routed as istiod does at %d steps\n", runs, compared)
	if len(findings) > 0 {
		Fail("Istio's analyzers warn about what Fledge wrote:\n" + strings.Join(findings, "\n"))
	}
})
