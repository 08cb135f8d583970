package meshsim

import (
	"reflect"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestBehaviourOfAnnotations(t *testing.T) {
	cases := []struct {
		name        string
		annotations map[string]string
		want        Behaviour
	}{
		{"none", nil, Behaviour{ErrorRate: 0, Median: 10 * time.Millisecond, P99: 20 * time.Millisecond}},
		{"all", map[string]string{AnnotationErrorRate: "0.05", AnnotationLatency: "40ms", AnnotationLatencyP99: "300ms"}, Behaviour{ErrorRate: 0.05, Median: 40 * time.Millisecond, P99: 300 * time.Millisecond}},
		{"p99 defaults to twice the median", map[string]string{AnnotationLatency: "1s"}, Behaviour{ErrorRate: 0, Median: time.Second, P99: 2 * time.Second}},
		{"malformed error rate", map[string]string{AnnotationErrorRate: "lots", AnnotationLatency: "5ms"}, Behaviour{ErrorRate: 0, Median: 5 * time.Millisecond, P99: 10 * time.Millisecond}},
		{"error rate above 1", map[string]string{AnnotationErrorRate: "1.5"}, Behaviour{ErrorRate: 0, Median: 10 * time.Millisecond, P99: 20 * time.Millisecond}},
		{"malformed latency", map[string]string{AnnotationErrorRate: "0.5", AnnotationLatency: "fast"}, Behaviour{ErrorRate: 0.5, Median: 10 * time.Millisecond, P99: 20 * time.Millisecond}},
		{"negative latency", map[string]string{AnnotationLatency: "-1s"}, Behaviour{ErrorRate: 0, Median: 10 * time.Millisecond, P99: 20 * time.Millisecond}},
		{"calls and tolerance", map[string]string{AnnotationCalls: "payments, ledger.bank", AnnotationToleratesFailures: "true"}, Behaviour{Median: 10 * time.Millisecond, P99: 20 * time.Millisecond, Calls: []string{"payments", "ledger.bank"}, ToleratesFailures: true}},
		{"a p99 below the median", map[string]string{AnnotationLatency: "50ms", AnnotationLatencyP99: "10ms"}, Behaviour{ErrorRate: 0, Median: 50 * time.Millisecond, P99: 100 * time.Millisecond}},
	}
	for _, c := range cases {
		if got := BehaviourOf(c.annotations); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestBehaviourDraws(t *testing.T) {
	const n = 20000
	cases := []Behaviour{
		{ErrorRate: 0.1, Median: 20 * time.Millisecond, P99: 40 * time.Millisecond},
		{ErrorRate: 0.02, Median: 100 * time.Millisecond, P99: time.Second},
		{ErrorRate: 0.5, Median: 5 * time.Millisecond, P99: 5 * time.Millisecond},
		{ErrorRate: 0, Median: 10 * time.Millisecond, P99: 20 * time.Millisecond},
	}
	for _, b := range cases {
		rng := seeded()
		errors := 0
		latencies := make([]time.Duration, n)
		for i := range n {
			code, latency := b.Draw(rng)
			if code == 500 {
				errors++
			} else if code != 200 {
				t.Fatalf("code %d", code)
			}
			latencies[i] = latency
		}
		slices.Sort(latencies)
		median, p99 := latencies[n/2], latencies[n*99/100]
		if rate := float64(errors) / n; !near(rate, b.ErrorRate, 0.01) {
			t.Errorf("%+v: error rate %.4f", b, rate)
		}
		if !near(float64(median), float64(b.Median), 0.03*float64(b.Median)) {
			t.Errorf("%+v: median %v", b, median)
		}
		if !near(float64(p99), float64(b.P99), 0.08*float64(b.P99)) {
			t.Errorf("%+v: p99 %v", b, p99)
		}
	}
}

func TestAnnotatedPodsServeAsAnnotated(t *testing.T) {
	m := shopMesh(splitVS(50, 50))
	for _, p := range m.Pods {
		if p.Labels["role"] == "canary" {
			p.Annotations = map[string]string{AnnotationErrorRate: "0.3", AnnotationLatency: "200ms"}
		}
	}
	ix := NewIndex(m)
	rng := seeded()
	served := map[string]int{}
	errors := map[string]int{}
	for range 20000 {
		d := ix.Route(Request{Namespace: "shop", Host: "web", Rand: rng})
		served[d.Served.Workload]++
		if d.Code == 500 {
			errors[d.Served.Workload]++
		}
		if d.Code != d.Served.Code || d.Latency != d.Served.Latency {
			t.Fatalf("the client and the pod disagree: %+v, %+v", d, d.Served)
		}
	}
	if rate := float64(errors["web-canary"]) / float64(served["web-canary"]); !near(rate, 0.3, 0.02) {
		t.Errorf("canary error rate %.3f", rate)
	}
	if errors["web-primary"] != 0 {
		t.Errorf("primary errors %d", errors["web-primary"])
	}
}

func TestWorkloadName(t *testing.T) {
	owned := func(kind, name string, podLabels map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "the-pod", Labels: podLabels,
			OwnerReferences: []metav1.OwnerReference{{Kind: kind, Name: name, Controller: ptr(true)}}}}
	}
	cases := []struct {
		name string
		pod  *corev1.Pod
		want string
	}{
		{"a Deployment's pod", owned("ReplicaSet", "web-canary-7f9c6d5b8", labels("pod-template-hash", "7f9c6d5b8")), "web-canary"},
		{"a Deployment name with dashes and digits", owned("ReplicaSet", "api-v2-1-6b7c8d", labels("pod-template-hash", "6b7c8d")), "api-v2-1"},
		{"a ReplicaSet without the hash label", owned("ReplicaSet", "bare-rs", nil), "bare-rs"},
		{"a hash that is not the suffix", owned("ReplicaSet", "web-abc", labels("pod-template-hash", "xyz")), "web-abc"},
		{"a StatefulSet's pod", owned("StatefulSet", "db", labels("controller-revision-hash", "db-5c")), "db"},
		{"a pod nobody owns", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "lonely"}}, "lonely"},
		{"an owner that is not the controller", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "lonely", OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "x"}}}}, "lonely"},
	}
	for _, c := range cases {
		if got := WorkloadName(c.pod); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
