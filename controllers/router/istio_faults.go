package router

import (
	"cmp"
	"context"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	istioapiv1 "istio.io/api/networking/v1"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/workload"
)

// faultsName names the VirtualService that injects a canary's faults into its dependency.
func faultsName(canary *fledgev1alpha1.Canary) string { return canary.Name + "-fledge-faults" }

// reconcileFaults creates the VirtualService of the dependency that delays or aborts the
// requests coming from the canary's pods (and only those: it matches their labels), or
// deletes it when no fault is wanted. A VirtualService of the user's for the same host would
// conflict with it; the fault step is meant for dependencies routed without one.
func (r *Istio) reconcileFaults(ctx context.Context, canary *fledgev1alpha1.Canary, faults *fledgev1alpha1.FaultInjection) error {
	key := client.ObjectKey{Namespace: canary.Namespace, Name: faultsName(canary)}
	vs := &istionetworkingv1.VirtualService{}
	err := r.Client.Get(ctx, key, vs)
	exists := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("read VirtualService %s: %w", key, err)
	}
	if faults == nil {
		if exists {
			if err := r.Client.Delete(ctx, vs); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("remove the injected faults (VirtualService %s): %w", key, err)
			}
		}
		return nil
	}
	want := faultsSpec(canary, faults, cmp.Or(r.ClusterDomain, fledgev1alpha1.DefaultClusterDomain))
	if exists && proto.Equal(&vs.Spec, want) {
		return nil
	}
	vs.Namespace, vs.Name = key.Namespace, key.Name
	vs.Labels = workload.ManagedLabels(canary.Name, "")
	proto.Reset(&vs.Spec)
	proto.Merge(&vs.Spec, want)
	if _, err := r.own(canary, vs); err != nil {
		return err
	}
	if exists {
		err = r.Client.Update(ctx, vs)
	} else {
		err = r.Client.Create(ctx, vs)
	}
	if err != nil {
		return fmt.Errorf("inject faults into the calls to %s (VirtualService %s): %w", faults.Dependency, key, err)
	}
	return nil
}

func faultsSpec(canary *fledgev1alpha1.Canary, f *fledgev1alpha1.FaultInjection, clusterDomain string) *istioapiv1.VirtualService {
	host := f.Dependency
	if strings.Count(host, ".") == 1 {
		host += ".svc." + clusterDomain // name.namespace: Istio takes dotted hosts literally
	}
	fault := &istioapiv1.HTTPFaultInjection{}
	if d := f.Delay; d != nil {
		fault.Delay = &istioapiv1.HTTPFaultInjection_Delay{
			HttpDelayType: &istioapiv1.HTTPFaultInjection_Delay_FixedDelay{FixedDelay: durationpb.New(d.FixedDelay.Duration)},
			Percentage:    &istioapiv1.Percent{Value: float64(percentOr100(d.Percentage))},
		}
	}
	if a := f.Abort; a != nil {
		status := a.HTTPStatus
		if status == 0 {
			status = 503
		}
		fault.Abort = &istioapiv1.HTTPFaultInjection_Abort{
			ErrorType:  &istioapiv1.HTTPFaultInjection_Abort_HttpStatus{HttpStatus: status},
			Percentage: &istioapiv1.Percent{Value: float64(percentOr100(a.Percentage))},
		}
	}
	toDependency := []*istioapiv1.HTTPRouteDestination{{Destination: &istioapiv1.Destination{Host: host}}}
	return &istioapiv1.VirtualService{
		Hosts:    []string{host},
		ExportTo: exportToOwnNamespace,
		Http: []*istioapiv1.HTTPRoute{
			{
				Name:  "fledge-canary-faults",
				Match: []*istioapiv1.HTTPMatchRequest{{SourceLabels: map[string]string{workload.LabelCanary: canary.Name, workload.LabelRole: string(workload.Canary)}}},
				Fault: fault,
				Route: toDependency,
			},
			{Name: "fledge-everyone-else", Route: toDependency},
		},
	}
}

func percentOr100(p int32) int32 {
	if p <= 0 {
		return 100
	}
	return p
}
