package router

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/ownership"
	"fledge.dev/fledge/controllers/workload"
)

// AnnotationOriginalSelector keeps the selector a user's Service had before Fledge took it
// over, given back when the Canary is deleted with revertOnDeletion.
const AnnotationOriginalSelector = "fledge.dev/original-selector"

// Services manages a canary's Kubernetes Services: the service itself, which selects the pods
// of both versions (the mesh splits its traffic by subset), and one Service per version for
// addressing it directly.
type Services struct {
	Clients
}

// Reconcile creates or repairs the three Services; it reports whether it wrote any.
func (s *Services) Reconcile(ctx context.Context, canary *fledgev1alpha1.Canary) (bool, error) {
	name := ServiceName(canary)
	changed := false
	for _, want := range []struct {
		name string
		role workload.Role
	}{{name, ""}, {name + "-" + string(workload.Primary), workload.Primary}, {name + "-" + string(workload.Canary), workload.Canary}} {
		c, err := s.ensure(ctx, canary, want.name, want.role)
		if err != nil {
			return changed, err
		}
		changed = changed || c
	}
	return changed, nil
}

func (s *Services) ensure(ctx context.Context, canary *fledgev1alpha1.Canary, name string, role workload.Role) (bool, error) {
	key := client.ObjectKey{Namespace: canary.Namespace, Name: name}
	svc := &corev1.Service{}
	exists, err := s.get(ctx, key, svc, "Service")
	if err != nil {
		return false, err
	}
	if exists && ownership.ManagedBy(svc) != canary.Name {
		if err := ownership.CheckManager("Service", svc, canary, "give this Canary another spec.service.name"); err != nil {
			return false, err
		}
		if role != "" {
			return false, fmt.Errorf("Service %s exists and is not managed by Fledge: delete it or give this Canary another spec.service.name", key)
		}
		// The user's own Service for the app: take it over, so that clients keep their address.
		if svc.Annotations == nil {
			svc.Annotations = map[string]string{}
		}
		svc.Annotations[AnnotationOriginalSelector] = selectorString(svc.Spec.Selector)
	}

	before := svc.DeepCopy()
	svc.Namespace, svc.Name = key.Namespace, key.Name
	if svc.Labels == nil {
		svc.Labels = map[string]string{}
	}
	maps.Copy(svc.Labels, workload.ManagedLabels(canary.Name, role))
	svc.Spec.Selector = map[string]string{workload.LabelCanary: canary.Name}
	if role != "" {
		svc.Spec.Selector[workload.LabelRole] = string(role)
	}
	svc.Spec.Ports = withPort(svc.Spec.Ports, servicePort(canary))
	if _, err := s.own(canary, svc); err != nil {
		return false, err
	}

	switch {
	case !exists:
		if err := s.Client.Create(ctx, svc); err != nil {
			return false, fmt.Errorf("create Service %s: %w", key, err)
		}
		return true, nil
	case !serviceEqual(before, svc):
		if err := s.Client.Update(ctx, svc); err != nil {
			return false, fmt.Errorf("update Service %s: %w", key, err)
		}
		return true, nil
	}
	return false, nil
}

// Finalize leaves the Services in place for the primary, no longer owned by the Canary.
func (s *Services) Finalize(ctx context.Context, canary *fledgev1alpha1.Canary) error {
	name := ServiceName(canary)
	for _, n := range []string{name, name + "-" + string(workload.Primary), name + "-" + string(workload.Canary)} {
		svc := &corev1.Service{}
		key := client.ObjectKey{Namespace: canary.Namespace, Name: n}
		exists, err := s.get(ctx, key, svc, "Service")
		if err != nil {
			return err
		}
		// Only the owner reference goes: the label stays, so that a Canary of the same name
		// created later takes the Services back.
		if !exists || !ownership.Release(svc, canary) {
			continue
		}
		if err := s.Client.Update(ctx, svc); err != nil {
			return fmt.Errorf("hand back Service %s: %w", key, err)
		}
	}
	return nil
}

func servicePort(canary *fledgev1alpha1.Canary) corev1.ServicePort {
	svc := canary.Spec.Service
	target := svc.TargetPort
	if target == 0 {
		target = svc.Port
	}
	name := svc.PortName
	if name == "" {
		name = "http"
	}
	return corev1.ServicePort{Name: name, Port: svc.Port, TargetPort: intstr.FromInt32(target), Protocol: corev1.ProtocolTCP}
}

// withPort returns ports with want in place of any port of the same number or name (keeping
// what the API server allocated for it, such as a node port).
func withPort(ports []corev1.ServicePort, want corev1.ServicePort) []corev1.ServicePort {
	out := []corev1.ServicePort{want}
	for _, p := range ports {
		if p.Port == want.Port || p.Name == want.Name {
			out[0].NodePort, out[0].AppProtocol = p.NodePort, p.AppProtocol
			continue
		}
		out = append(out, p)
	}
	return out
}

func serviceEqual(a, b *corev1.Service) bool {
	if !maps.Equal(a.Labels, b.Labels) || !maps.Equal(a.Annotations, b.Annotations) || !maps.Equal(a.Spec.Selector, b.Spec.Selector) {
		return false
	}
	if len(a.OwnerReferences) != len(b.OwnerReferences) || len(a.Spec.Ports) != len(b.Spec.Ports) {
		return false
	}
	for i := range a.Spec.Ports {
		pa, pb := a.Spec.Ports[i], b.Spec.Ports[i]
		if pa.Name != pb.Name || pa.Port != pb.Port || pa.TargetPort != pb.TargetPort || pa.Protocol != pb.Protocol {
			return false
		}
	}
	return true
}

func selectorString(sel map[string]string) string {
	parts := make([]string, 0, len(sel))
	for k, v := range sel {
		parts = append(parts, k+"="+v)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// Restore makes the canary's Service select the target's pods again, with the selector it had
// before Fledge took it over (or, for a Service Fledge created, the target's own), and hands it
// back to the user; the target must serve by then. The Services of the two versions are left
// to the garbage collector, with the Canary.
func (s *Services) Restore(ctx context.Context, canary *fledgev1alpha1.Canary, targetSelector map[string]string) error {
	key := client.ObjectKey{Namespace: canary.Namespace, Name: ServiceName(canary)}
	svc := &corev1.Service{}
	exists, err := s.get(ctx, key, svc, "Service")
	if err != nil || !exists || ownership.ManagedBy(svc) != canary.Name {
		return err
	}
	selector := maps.Clone(targetSelector)
	if original, ok := svc.Annotations[AnnotationOriginalSelector]; ok {
		if selector, err = parseSelector(original); err != nil {
			return fmt.Errorf("read the original selector of Service %s: %w", key, err)
		}
	}
	// An original Service without a selector (endpoints of the user's own) gets none back.
	svc.Spec.Selector = selector
	delete(svc.Annotations, AnnotationOriginalSelector)
	delete(svc.Labels, workload.LabelCanary)
	delete(svc.Labels, workload.LabelManagedBy)
	delete(svc.Labels, workload.LabelRole)
	ownership.Release(svc, canary)
	if err := s.Client.Update(ctx, svc); err != nil {
		return fmt.Errorf("give Service %s back to the target: %w", key, err)
	}
	return nil
}

// parseSelector reads selectorString's form back.
func parseSelector(s string) (map[string]string, error) {
	out := map[string]string{}
	if s == "" {
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not key=value", part)
		}
		out[k] = v
	}
	return out, nil
}
