package fence

import (
	"context"

	"k8s.io/apimachinery/pkg/types"
)

type canaryKey struct{}

// ForCanary marks ctx as work for one Canary: a fence that splits the Canaries among replicas
// (package shard) lets the writes made with it through only while this replica owns that
// Canary.
func ForCanary(ctx context.Context, key types.NamespacedName) context.Context {
	return context.WithValue(ctx, canaryKey{}, key)
}

// CanaryOf returns the Canary ctx was marked for, if any.
func CanaryOf(ctx context.Context) (types.NamespacedName, bool) {
	key, ok := ctx.Value(canaryKey{}).(types.NamespacedName)
	return key, ok
}
