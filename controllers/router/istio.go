package router

import (
	"context"
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/proto"
	istioapiv1 "istio.io/api/networking/v1"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/ownership"
	"fledge.dev/fledge/controllers/rollout"
	"fledge.dev/fledge/controllers/workload"
)

// AnnotationOriginal keeps, on a VirtualService or DestinationRule that existed before Fledge
// took it over, the spec it had, so that deleting the Canary can put it back.
const AnnotationOriginal = "fledge.dev/original-spec"

// Istio routes through a DestinationRule with the subsets primary and canary and a
// VirtualService that splits the traffic between them by weight.
type Istio struct {
	Clients
	// ClusterDomain is the DNS domain of the cluster's Services (DefaultClusterDomain when
	// empty), for the dependency of the fault gate named name.namespace.
	ClusterDomain string
}

var _ Router = (*Istio)(nil)

// Reconcile makes the DestinationRule and the VirtualService match the routes.
func (r *Istio) Reconcile(ctx context.Context, canary *fledgev1alpha1.Canary, routes rollout.Routes) (Result, error) {
	var result Result
	// Make before break: a subset is defined before a route names it, and dropped only after
	// the last route that named it is gone.
	managed, withCanary := !routes.UserSubsets, withCanary(routes)
	// Fledge's own Service is in the cache; the user's (on their own subsets) is not, so it is
	// read only when the VirtualService is to be written, and its exportTo compared meanwhile
	// with the one the VirtualService has (a change of the annotation alone waits for the next
	// write of the routes).
	var exportTo []string
	if managed {
		var err error
		if exportTo, err = r.exportTo(ctx, canary); err != nil {
			return result, err
		}
	}
	canaryDefined := false
	if managed {
		var err error
		if canaryDefined, err = r.ensureDestinationRule(ctx, canary, withCanary, true, exportTo, &result); err != nil {
			return result, err
		}
	}

	vs := &istionetworkingv1.VirtualService{}
	err := r.ensure(ctx, canary, vs, &result, func(original []byte) (bool, error) {
		var orig *istioapiv1.VirtualService
		if original != nil {
			orig = &istioapiv1.VirtualService{}
			if err := json.Unmarshal(original, orig); err != nil {
				return false, fmt.Errorf("read the original spec of VirtualService %s: %w", vs.Name, err)
			}
		}
		if !managed {
			exportTo = vs.Spec.ExportTo
		}
		want := virtualServiceSpec(canary, orig, routes, exportTo)
		if proto.Equal(&vs.Spec, want) {
			return false, nil
		}
		if !managed {
			var err error
			if exportTo, err = r.exportTo(ctx, canary); err != nil {
				return false, err
			}
			want = virtualServiceSpec(canary, orig, routes, exportTo)
		}
		if routes.UserSubsets {
			// The user's DestinationRule is not in the cache; it is read only when routes change.
			if err := r.verifySubsets(ctx, canary); err != nil {
				return false, err
			}
		}
		if orig == nil {
			// Gateways are not cached either; the user's own VirtualService keeps its own.
			if err := r.verifyGateways(ctx, canary); err != nil {
				return false, err
			}
		}
		proto.Reset(&vs.Spec)
		proto.Merge(&vs.Spec, want)
		return true, nil
	})
	if err != nil {
		return result, err
	}
	if canaryDefined && !withCanary {
		if _, err := r.ensureDestinationRule(ctx, canary, false, false, exportTo, &result); err != nil {
			return result, err
		}
	}
	if managed {
		if err := r.reconcileFaults(ctx, canary, routes.Faults); err != nil {
			return result, err
		}
	}
	// Verify what the API server stored, not what was sent: vs holds the server's answer.
	got, ok := weightsOf(&vs.Spec, ServiceName(canary), canary.Namespace, routes)
	if !ok || !got.SameWeights(routes) {
		return result, fmt.Errorf("VirtualService %s/%s routes %d/%d to %s/%s, not the %d/%d Fledge wrote",
			vs.Namespace, vs.Name, got.PrimaryWeight, got.CanaryWeight, routes.PrimarySubset, routes.CanarySubset, routes.PrimaryWeight, routes.CanaryWeight)
	}
	return result, nil
}

// ensureDestinationRule defines the primary's subset, and the canary's when withCanary, or
// when keep and it is defined already (its routes may not be gone yet). It reports whether
// the canary's subset is defined.
func (r *Istio) ensureDestinationRule(ctx context.Context, canary *fledgev1alpha1.Canary, withCanary, keep bool, exportTo []string, result *Result) (bool, error) {
	dr := &istionetworkingv1.DestinationRule{}
	defined := false
	err := r.ensure(ctx, canary, dr, result, func(original []byte) (bool, error) {
		var orig *istioapiv1.DestinationRule
		if original != nil {
			orig = &istioapiv1.DestinationRule{}
			if err := json.Unmarshal(original, orig); err != nil {
				return false, fmt.Errorf("read the original spec of DestinationRule %s: %w", dr.Name, err)
			}
		}
		defined = withCanary || keep && definesSubset(&dr.Spec, rollout.SubsetCanary)
		want := destinationRuleSpec(canary, orig, defined, exportTo)
		if proto.Equal(&dr.Spec, want) {
			return false, nil
		}
		proto.Reset(&dr.Spec)
		proto.Merge(&dr.Spec, want)
		return true, nil
	})
	return defined, err
}

// ensure gets obj (named after the canary's service) from the cache, or takes over the user's
// object of that name, lets mutate bring its spec to what the canary needs, and writes it when
// mutate changed something. mutate receives the user's original spec, if any, as JSON.
func (r *Istio) ensure(ctx context.Context, canary *fledgev1alpha1.Canary, obj client.Object, result *Result, mutate func(original []byte) (bool, error)) error {
	key := client.ObjectKey{Namespace: canary.Namespace, Name: ServiceName(canary)}
	kind := kindOf(obj)
	exists, err := r.get(ctx, key, obj, kind)
	if err != nil {
		return err
	}
	if exists && ownership.ManagedBy(obj) != canary.Name {
		if err := ownership.CheckManager(kind, obj, canary, "give this Canary another spec.service.name"); err != nil {
			return err
		}
		if err := adopt(obj); err != nil {
			return fmt.Errorf("take over %s %s: %w", kind, key, err)
		}
	}
	obj.SetNamespace(key.Namespace)
	obj.SetName(key.Name)
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	for k, v := range workload.ManagedLabels(canary.Name, "") {
		labels[k] = v
	}
	obj.SetLabels(labels)
	var original []byte
	if o, ok := obj.GetAnnotations()[AnnotationOriginal]; ok {
		original = []byte(o)
	}
	// Whether the spec is still the one Fledge last wrote tells a repair of someone else's
	// edit from a move of Fledge's own that a crash left half done.
	edited := exists && ownership.ManagedBy(obj) == canary.Name && isEdited(obj)
	changed, err := mutate(original)
	if err != nil {
		return err
	}
	if changed || obj.GetAnnotations()[AnnotationWritten] == "" {
		if err := stampWritten(obj); err != nil {
			return err
		}
	}
	metaChanged, err := r.own(canary, obj)
	if err != nil {
		return err
	}
	switch {
	case !exists:
		if err := r.Client.Create(ctx, obj); err != nil {
			return fmt.Errorf("create %s %s: %w", kind, key, err)
		}
		result.Created = true
	case changed || metaChanged:
		if err := r.Client.Update(ctx, obj); err != nil {
			return fmt.Errorf("update %s %s: %w", kind, key, err)
		}
		result.Updated = true
		result.Repaired = result.Repaired || changed && edited
	}
	return nil
}

// adopt records the spec of a user's object before Fledge changes it.
func adopt(obj client.Object) error {
	spec, err := specOf(obj)
	if err != nil {
		return err
	}
	data, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[AnnotationOriginal] = string(data)
	obj.SetAnnotations(annotations)
	return nil
}

func kindOf(obj client.Object) string {
	switch obj.(type) {
	case *istionetworkingv1.VirtualService:
		return "VirtualService"
	case *istionetworkingv1.DestinationRule:
		return "DestinationRule"
	}
	return fmt.Sprintf("%T", obj)
}

func definesSubset(dr *istioapiv1.DestinationRule, name string) bool {
	for _, s := range dr.GetSubsets() {
		if s.GetName() == name {
			return true
		}
	}
	return false
}
