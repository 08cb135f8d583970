package meshsim

import (
	"fmt"
	"math/rand/v2"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	istioapiv1 "istio.io/api/networking/v1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The standard mesh of these tests: Service web in shop selects app=web; Deployments
// web-primary and web-canary (role=primary / role=canary) have two ready pods each; the
// DestinationRule web has subsets primary and canary by role.

func seeded() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }

func labels(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// deploymentPods are n ready pods of a Deployment, owned by its ReplicaSet as the
// controllers would have made them.
func deploymentPods(namespace, deployment string, n int, podLabels, annotations map[string]string) []*corev1.Pod {
	hash := "5d8f7c9b6"
	var out []*corev1.Pod
	for i := range n {
		l := labels("pod-template-hash", hash)
		for k, v := range podLabels {
			l[k] = v
		}
		out = append(out, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: namespace, Name: fmt.Sprintf("%s-%s-%05d", deployment, hash, i),
				Labels: l, Annotations: annotations,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: deployment + "-" + hash, Controller: ptr(true)}},
			},
			Status: readyStatus(),
		})
	}
	return out
}

func readyStatus() corev1.PodStatus {
	return corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
}

func ptr[T any](v T) *T { return &v }

func kubeService(namespace, name string, selector map[string]string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Spec: corev1.ServiceSpec{Selector: selector}}
}

func newVS(namespace, name string, hosts []string, routes ...*istioapiv1.HTTPRoute) *networkingv1.VirtualService {
	return &networkingv1.VirtualService{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, CreationTimestamp: metav1.NewTime(time.Unix(1000, 0))},
		Spec:       istioapiv1.VirtualService{Hosts: hosts, Http: routes},
	}
}

func newDR(namespace, name, host string, subsets ...*istioapiv1.Subset) *networkingv1.DestinationRule {
	return &networkingv1.DestinationRule{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec:       istioapiv1.DestinationRule{Host: host, Subsets: subsets},
	}
}

func subsetOf(name string, kv ...string) *istioapiv1.Subset {
	return &istioapiv1.Subset{Name: name, Labels: labels(kv...)}
}

func to(host, subset string, weight int32) *istioapiv1.HTTPRouteDestination {
	return &istioapiv1.HTTPRouteDestination{Destination: &istioapiv1.Destination{Host: host, Subset: subset}, Weight: weight}
}

func route(name string, match []*istioapiv1.HTTPMatchRequest, dests ...*istioapiv1.HTTPRouteDestination) *istioapiv1.HTTPRoute {
	return &istioapiv1.HTTPRoute{Name: name, Match: match, Route: dests}
}

func exact(s string) *istioapiv1.StringMatch {
	return &istioapiv1.StringMatch{MatchType: &istioapiv1.StringMatch_Exact{Exact: s}}
}

func prefix(s string) *istioapiv1.StringMatch {
	return &istioapiv1.StringMatch{MatchType: &istioapiv1.StringMatch_Prefix{Prefix: s}}
}

func regex(s string) *istioapiv1.StringMatch {
	return &istioapiv1.StringMatch{MatchType: &istioapiv1.StringMatch_Regex{Regex: s}}
}

func duration(d time.Duration) *durationpb.Duration { return durationpb.New(d) }

func percent(v float64) *istioapiv1.Percent { return &istioapiv1.Percent{Value: v} }

// shopMesh is the standard mesh plus vss.
func shopMesh(vss ...*networkingv1.VirtualService) Mesh {
	m := Mesh{
		Services:         []*corev1.Service{kubeService("shop", "web", labels("app", "web"))},
		DestinationRules: []*networkingv1.DestinationRule{newDR("shop", "web", "web", subsetOf("primary", "role", "primary"), subsetOf("canary", "role", "canary"))},
		VirtualServices:  vss,
	}
	m.Pods = append(m.Pods, deploymentPods("shop", "web-primary", 2, labels("app", "web", "role", "primary"), nil)...)
	m.Pods = append(m.Pods, deploymentPods("shop", "web-canary", 2, labels("app", "web", "role", "canary"), nil)...)
	return m
}

// splitVS is a VirtualService for web sending primary/canary by weight.
func splitVS(primary, canary int32) *networkingv1.VirtualService {
	return newVS("shop", "web", []string{"web"}, route("split", nil, to("web", "primary", primary), to("web", "canary", canary)))
}

// routeMany routes n copies of req with one seeded source and counts the serving workloads
// ("" for requests no pod served).
func routeMany(ix *Index, req Request, n int) map[string]int {
	req.Rand = seeded()
	counts := map[string]int{}
	for range n {
		d := ix.Route(req)
		if d.Served == nil {
			counts[""]++
		} else {
			counts[d.Served.Workload]++
		}
	}
	return counts
}

func near(got, want, tolerance float64) bool { return got >= want-tolerance && got <= want+tolerance }
