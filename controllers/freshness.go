package controllers

import (
	"strconv"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// freshness remembers the resourceVersion of each status this controller wrote, until the
// informer cache has caught up with it. Deciding on a status older than our own last write
// could repeat or undo a step.
type freshness struct {
	mu      sync.Mutex
	written map[types.UID]uint64
}

func (f *freshness) wrote(obj client.Object) {
	rv, err := strconv.ParseUint(obj.GetResourceVersion(), 10, 64)
	if err != nil {
		return // not an etcd revision: no way to order it, so no gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.written == nil {
		f.written = map[types.UID]uint64{}
	}
	f.written[obj.GetUID()] = rv
}

// seen reports whether obj, as read from the cache, is at least as new as our last write.
func (f *freshness) seen(obj client.Object) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	want, ok := f.written[obj.GetUID()]
	if !ok {
		return true
	}
	rv, err := strconv.ParseUint(obj.GetResourceVersion(), 10, 64)
	if err != nil || rv >= want {
		delete(f.written, obj.GetUID())
		return true
	}
	return false
}
