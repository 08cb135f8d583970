package controllers

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/fence"
)

// Shards shares the Canaries among several replicas (package shard's Coordinator): each
// reconciles and notifies for the Canaries of the shards it holds.
type Shards interface {
	// Begin starts work on a Canary this replica owns, and says whether it does.
	Begin(key types.NamespacedName) (done func(), ok bool)
	// ShardOf returns the shard of a Canary.
	ShardOf(key types.NamespacedName) int
	// OnAcquire and OnRelease register what to do as this replica takes or gives up a shard.
	OnAcquire(func(shard int))
	OnRelease(func(shard int))
	fence.Fence
}

// useShards makes the reconciler act only for the Canaries of the shards this replica holds:
// a shard it takes wakes each of its Canaries, and one it gives up is forgotten (its
// metrics, the checks in flight) so that this replica reports only what it drives.
func (r *CanaryReconciler) useShards(ctx context.Context, shards Shards) {
	r.shards = shards
	r.shardWake = make(chan event.GenericEvent, 1024)
	shards.OnAcquire(func(s int) {
		for _, key := range r.canariesInShard(ctx, s) {
			select {
			case r.shardWake <- event.GenericEvent{Object: &fledgev1alpha1.Canary{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}}:
			case <-ctx.Done():
				return
			}
		}
	})
	shards.OnRelease(func(s int) {
		for _, key := range r.canariesInShard(ctx, s) {
			forgetMetrics(key.Namespace, key.Name)
			r.checks.drop(key)
		}
	})
}

// canariesInShard lists, from the cache, the Canaries of shard s.
func (r *CanaryReconciler) canariesInShard(ctx context.Context, s int) []types.NamespacedName {
	var canaries fledgev1alpha1.CanaryList
	if err := r.Client.List(ctx, &canaries, client.UnsafeDisableDeepCopy); err != nil {
		log.FromContext(ctx).Error(err, "list the Canaries of a shard", "shard", s)
		return nil
	}
	var keys []types.NamespacedName
	for i := range canaries.Items {
		if key := client.ObjectKeyFromObject(&canaries.Items[i]); r.shards.ShardOf(key) == s {
			keys = append(keys, key)
		}
	}
	return keys
}
