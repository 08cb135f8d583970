package meshsim

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// endpoint is a pod that can serve a Service, with what the simulation needs of it.
type endpoint struct {
	pod       string
	ip        string
	namespace string
	workload  string
	labels    map[string]string
	behaviour Behaviour
}

func newEndpoint(p *corev1.Pod) *endpoint {
	return &endpoint{
		pod:       p.Name,
		ip:        p.Status.PodIP,
		namespace: p.Namespace,
		workload:  WorkloadName(p),
		labels:    p.Labels,
		behaviour: BehaviourOf(p.Annotations),
	}
}

// WorkloadName is what Istio reports as destination_workload for a pod: its Deployment (the
// owning ReplicaSet's name without the pod-template-hash suffix), else the name of whatever
// controls it, else the pod's own name.
func WorkloadName(p *corev1.Pod) string {
	owner := metav1.GetControllerOf(p)
	if owner == nil {
		return p.Name
	}
	if hash := p.Labels["pod-template-hash"]; owner.Kind == "ReplicaSet" && hash != "" {
		if name, ok := strings.CutSuffix(owner.Name, "-"+hash); ok {
			return name
		}
	}
	return owner.Name
}

// isEndpoint reports whether the endpoints controller would list p as a ready address of a
// Service: not terminating, not finished, and Ready (unless the Service publishes not-ready
// addresses). Envoy only balances over those.
func isEndpoint(p *corev1.Pod, publishNotReady bool) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return false
	}
	if publishNotReady {
		return true
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// hasLabels reports whether labels include every key and value of want.
func hasLabels(labels, want map[string]string) bool {
	for k, v := range want {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// withLabels is the subset of endpoints whose pods carry want.
func withLabels(endpoints []*endpoint, want map[string]string) []*endpoint {
	var out []*endpoint
	for _, e := range endpoints {
		if hasLabels(e.labels, want) {
			out = append(out, e)
		}
	}
	return out
}
