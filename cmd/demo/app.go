package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"fledge.dev/fledge/analysis"
	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/test/cluster"
	"fledge.dev/fledge/test/meshsim"
)

// app is the demo's Deployment and Canary.
type app struct {
	k8s  client.Client
	mesh *meshsim.Sim
}

// version is what a release runs: an image, and how it behaves in the simulated mesh.
type version struct {
	image, errorRate, latency string
}

func (a *app) key() client.ObjectKey {
	return client.ObjectKey{Namespace: demoNamespace, Name: demoApp}
}

func (a *app) install(ctx context.Context, interval time.Duration) error {
	if err := a.k8s.Create(ctx, cluster.EnabledNamespace(demoNamespace)); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	labels := map[string]string{"app": demoApp}
	replicas := int32(2)
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: demoNamespace, Name: demoApp},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: podTemplate(labels, version{image: "example.com/podinfo:v1", errorRate: "0", latency: "20ms"}),
		},
	}
	if err := a.k8s.Create(ctx, deploy); err != nil {
		return fmt.Errorf("create the Deployment: %w", err)
	}
	minRate, maxLatency, minRequests := 99.0, 200.0, int64(20)
	window := &metav1.Duration{Duration: 2 * interval}
	canary := &fledgev1alpha1.Canary{
		ObjectMeta: metav1.ObjectMeta{Namespace: demoNamespace, Name: demoApp},
		Spec: fledgev1alpha1.CanarySpec{
			TargetRef: fledgev1alpha1.TargetRef{Name: demoApp},
			Service:   fledgev1alpha1.CanaryService{Port: 9898},
			Analysis: fledgev1alpha1.CanaryAnalysis{
				Interval:    &metav1.Duration{Duration: interval},
				Threshold:   2,
				StepWeights: []int32{20, 40, 60, 80},
				Metrics: []fledgev1alpha1.CanaryMetric{
					{Name: "success-rate", Builtin: analysis.BuiltinSuccessRate, Interval: window, MinRequests: &minRequests, ThresholdRange: &fledgev1alpha1.ThresholdRange{Min: &minRate}},
					{Name: "latency", Builtin: analysis.BuiltinDuration, Interval: window, ThresholdRange: &fledgev1alpha1.ThresholdRange{Max: &maxLatency}},
				},
			},
		},
	}
	if err := a.k8s.Create(ctx, canary); err != nil {
		return fmt.Errorf("create the Canary: %w", err)
	}
	fmt.Printf("  Canary: one step per %s through 20, 40, 60, 80 %%; each step needs a success rate ≥ 99 %% and a p99 ≤ 200 ms over %s\n", interval, window.Duration)
	return nil
}

func podTemplate(labels map[string]string, v version) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{
			meshsim.AnnotationErrorRate: v.errorRate, meshsim.AnnotationLatency: v.latency,
		}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: demoApp, Image: v.image, Ports: []corev1.ContainerPort{{ContainerPort: 9898}}}}},
	}
}

// release edits the Deployment as a person would: a new image (and its behaviour).
func (a *app) release(ctx context.Context, v version) error {
	for {
		d := &appsv1.Deployment{}
		if err := a.k8s.Get(ctx, a.key(), d); err != nil {
			return err
		}
		d.Spec.Template = podTemplate(d.Spec.Template.Labels, v)
		err := a.k8s.Update(ctx, d)
		if !apierrors.IsConflict(err) {
			if err == nil {
				fmt.Printf("  kubectl set image deployment/%s %s=%s   (the user's only action)\n", demoApp, demoApp, v.image)
			}
			return err
		}
	}
}

// follow prints each change of the Canary until it settles, and returns it. A rollout has
// settled once a rollout other than the previous one (after) has ended.
func (a *app) follow(ctx context.Context, what, after string) (*fledgev1alpha1.Canary, error) {
	var last string
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		c := &fledgev1alpha1.Canary{}
		if err := a.k8s.Get(ctx, a.key(), c); err != nil {
			return nil, err
		}
		line := progressLine(c)
		if line != last {
			fmt.Printf("  %s  %s\n", time.Now().Format("15:04:05"), line)
			last = line
		}
		if settled(c, what) && (what != "rollout" || c.Status.RolloutID != after) {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("the %s did not settle within 10 minutes", what)
}

func settled(c *fledgev1alpha1.Canary, what string) bool {
	switch c.Status.Phase {
	case fledgev1alpha1.PhaseInitialized:
		return what == "initialising"
	case fledgev1alpha1.PhaseSucceeded, fledgev1alpha1.PhaseFailed:
		return what == "rollout"
	}
	return false
}

// progressLine is one line of live progress: phase, weights as a bar, step, checks, metrics.
func progressLine(c *fledgev1alpha1.Canary) string {
	st := c.Status
	w := int(st.CanaryWeight)
	bar := strings.Repeat("█", w/5) + strings.Repeat("░", 20-w/5)
	line := fmt.Sprintf("%-12s primary %3d%% %s %3d%% canary", st.Phase, 100-w, bar, w)
	if st.Phase == fledgev1alpha1.PhaseProgressing && st.StepIndex > 0 {
		line += fmt.Sprintf("  step %d", st.StepIndex)
	}
	if st.FailedChecks > 0 {
		line += fmt.Sprintf("  failed checks %d/%d", st.FailedChecks, c.Spec.Analysis.Threshold)
	}
	for _, m := range st.Metrics {
		mark := map[string]string{"Pass": "✓", "Fail": "✗", "Wait": "…"}[m.Verdict]
		if m.Value != nil {
			line += fmt.Sprintf("  %s %.1f %s", m.Name, *m.Value, mark)
		} else {
			line += fmt.Sprintf("  %s – %s", m.Name, mark)
		}
	}
	if st.Phase == fledgev1alpha1.PhaseFailed || st.Phase == fledgev1alpha1.PhaseSucceeded || st.Phase == fledgev1alpha1.PhaseInitialized {
		line += "\n            " + st.Message
	}
	return line
}

// sample sends n real requests through the mesh and prints who answered.
func (a *app) sample(ctx context.Context, n int, headers map[string]string) {
	counts := map[string]int{}
	for range n {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+a.mesh.HTTPAddress+"/", nil)
		if err != nil {
			return
		}
		req.Host = demoApp + "." + demoNamespace
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println("  request failed:", err)
			return
		}
		resp.Body.Close()
		counts[fmt.Sprintf("%d from %s (%s)", resp.StatusCode, resp.Header.Get("X-Served-By"), resp.Header.Get("X-Served-Image"))]++
	}
	for answer, count := range counts {
		fmt.Printf("    %d× %s\n", count, answer)
	}
}

// canaryTraffic is what Prometheus counted for the canary workload over the last rollout.
func (a *app) canaryTraffic(ctx context.Context, q analysis.Querier, during time.Duration) (requests, errors float64) {
	sel := fmt.Sprintf(`destination_workload_namespace=%q,destination_workload="%s-canary"`, demoNamespace, demoApp)
	window := fmt.Sprintf("%ds", int(during.Seconds())+2)
	requests, _ = q.Query(ctx, fmt.Sprintf(`sum(increase(istio_requests_total{%s}[%s]))`, sel, window), time.Now())
	errors, _ = q.Query(ctx, fmt.Sprintf(`sum(increase(istio_requests_total{%s,response_code=~"5.."}[%s]))`, sel, window), time.Now())
	return requests, errors
}

func (a *app) rolloutID(ctx context.Context) (string, error) {
	c := &fledgev1alpha1.Canary{}
	if err := a.k8s.Get(ctx, a.key(), c); err != nil {
		return "", err
	}
	return c.Status.RolloutID, nil
}
