package controllers

import (
	"context"
	"time"

	"golang.org/x/time/rate"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/workload"
)

// Field indexes of the cache.
const (
	// targetIndex indexes Canaries by the name of their target Deployment.
	targetIndex = "spec.targetRef.name"
	// configIndex indexes Deployments by the ConfigMaps and Secrets they reference
	// ("ConfigMap/name", "Secret/name").
	configIndex = "fledge.configRefs"
)

// CacheOptions limit the informer cache to what Fledge needs: the Services and Istio objects
// it manages (by label), all Deployments (targets carry no label of Fledge's), each trimmed
// of what Fledge never reads (trimForCache); with namespaces, those namespaces only (a
// manager with Roles there and no ClusterRole could list nothing else).
func CacheOptions(namespaces ...string) cache.Options {
	managed := labels.SelectorFromSet(labels.Set{workload.LabelManagedBy: workload.ManagedByFledge})
	var watched map[string]cache.Config
	for _, ns := range namespaces {
		if watched == nil {
			watched = map[string]cache.Config{}
		}
		watched[ns] = cache.Config{}
	}
	return cache.Options{
		DefaultNamespaces: watched,
		DefaultTransform:  trimForCache,
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Service{}:                    {Label: managed},
			&istionetworkingv1.VirtualService{}:  {Label: managed},
			&istionetworkingv1.DestinationRule{}: {Label: managed},
		},
	}
}

// SetupWithManager registers the reconciler and what wakes it.
func (r *CanaryReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, maxConcurrent int) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &fledgev1alpha1.Canary{}, targetIndex, func(obj client.Object) []string {
		return []string{obj.(*fledgev1alpha1.Canary).Spec.TargetRef.Name}
	}); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &appsv1.Deployment{}, configIndex, func(obj client.Object) []string {
		var keys []string
		for _, ref := range workload.ConfigRefs(&obj.(*appsv1.Deployment).Spec.Template.Spec) {
			keys = append(keys, string(ref.Kind)+"/"+ref.Name)
		}
		return keys
	}); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("canary").
		WithOptions(controller.Options{MaxConcurrentReconciles: max(maxConcurrent, 1), RateLimiter: retryLimiter()}).
		For(&fledgev1alpha1.Canary{}, builder.WithPredicates(canaryChanged{})).
		Owns(&appsv1.Deployment{}, builder.WithPredicates(deploymentChanged{})).
		Owns(&corev1.Service{}).
		Owns(&istionetworkingv1.VirtualService{}).
		Owns(&istionetworkingv1.DestinationRule{}).
		Watches(&appsv1.Deployment{}, handler.EnqueueRequestsFromMapFunc(r.canariesOfTarget), builder.WithPredicates(deploymentChanged{})).
		WatchesMetadata(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(r.canariesUsingConfig(workload.KindConfigMap))).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.canariesUsingConfig(workload.KindSecret))).
		// A verdict of the checks is in.
		WatchesRawSource(source.Channel(r.checks.wake, &handler.EnqueueRequestForObject{}))
	if r.shardWake != nil {
		// This replica took a shard.
		b = b.WatchesRawSource(source.Channel(r.shardWake, &handler.EnqueueRequestForObject{}))
	}
	if r.slots != nil {
		// A queued rollout's turn came.
		b = b.WatchesRawSource(source.Channel(r.slots.wake, &handler.EnqueueRequestForObject{}))
	}
	return b.Complete(r)
}

// canariesUsingConfig maps a ConfigMap or Secret to the Canaries whose target uses it.
func (r *CanaryReconciler) canariesUsingConfig(kind workload.ConfigKind) handler.MapFunc {
	return func(ctx context.Context, obj client.Object) []reconcile.Request {
		var deployments appsv1.DeploymentList
		if err := r.Client.List(ctx, &deployments, client.InNamespace(obj.GetNamespace()), client.MatchingFields{configIndex: string(kind) + "/" + obj.GetName()}); err != nil {
			return nil
		}
		var reqs []reconcile.Request
		for i := range deployments.Items {
			reqs = append(reqs, r.canariesOfTarget(ctx, &deployments.Items[i])...)
		}
		return reqs
	}
}

// canariesOfTarget maps a Deployment to the Canaries that target it.
func (r *CanaryReconciler) canariesOfTarget(ctx context.Context, obj client.Object) []reconcile.Request {
	if obj.GetLabels()[workload.LabelManagedBy] == workload.ManagedByFledge {
		return nil // a copy: Owns() maps it
	}
	var canaries fledgev1alpha1.CanaryList
	if err := r.Client.List(ctx, &canaries, client.InNamespace(obj.GetNamespace()), client.MatchingFields{targetIndex: obj.GetName()}); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(canaries.Items))
	for _, c := range canaries.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&c)})
	}
	return reqs
}

// canaryChanged lets through the Canary updates that can change a decision: the spec, a new
// manual request, deletion. Fledge's own status writes do not wake it again.
type canaryChanged struct {
	predicate.Funcs
}

func (canaryChanged) Update(e event.UpdateEvent) bool {
	before, ok1 := e.ObjectOld.(*fledgev1alpha1.Canary)
	after, ok2 := e.ObjectNew.(*fledgev1alpha1.Canary)
	if !ok1 || !ok2 {
		return true
	}
	return before.Generation != after.Generation ||
		!after.DeletionTimestamp.IsZero() ||
		len(before.Finalizers) != len(after.Finalizers) ||
		requestID(before) != requestID(after)
}

func requestID(c *fledgev1alpha1.Canary) string {
	if c.Status.Request == nil {
		return ""
	}
	return c.Status.Request.ID
}

// deploymentChanged lets through the Deployment updates a decision depends on: a new spec
// (template, replicas), a new revision of a copy, or a change between rolled out and not.
// The Deployment controller updates status many times during a rollout; the steps in
// between would only wake canaries for nothing.
type deploymentChanged struct {
	predicate.Funcs
}

func (deploymentChanged) Update(e event.UpdateEvent) bool {
	before, ok1 := e.ObjectOld.(*appsv1.Deployment)
	after, ok2 := e.ObjectNew.(*appsv1.Deployment)
	if !ok1 || !ok2 {
		return true
	}
	return before.Generation != after.Generation ||
		before.Annotations[workload.AnnotationRevision] != after.Annotations[workload.AnnotationRevision] ||
		before.Labels[workload.LabelCanary] != after.Labels[workload.LabelCanary] ||
		workload.RolledOut(before) != workload.RolledOut(after)
}

// maxRetryDelay bounds the back-off of a Canary whose reconciles fail. What ends such a spell
// is often nothing the manager watches (a namespace an administrator enables, a Gateway its
// owner shares, istiod back from a hang), so it is looked at again within half a minute, not
// controller-runtime's default of up to 16 minutes.
const maxRetryDelay = 30 * time.Second

// retryLimiter is controller-runtime's default rate limiter for retries, with maxRetryDelay:
// exponential per Canary from 5 ms, and 10 retries a second (bursts of 100) overall.
func retryLimiter() workqueue.TypedRateLimiter[reconcile.Request] {
	return workqueue.NewTypedMaxOfRateLimiter(
		workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](5*time.Millisecond, maxRetryDelay),
		&workqueue.TypedBucketRateLimiter[reconcile.Request]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
	)
}
