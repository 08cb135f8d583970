package router

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/ownership"
)

// Clients are what the routing adapters read and write with.
type Clients struct {
	// Client reads from the cache (which holds only objects Fledge manages) and writes.
	Client client.Client
	// APIReader reads objects Fledge does not manage yet (a user's VirtualService or Service
	// to take over); it is used only while they are not in the cache.
	APIReader client.Reader
	Scheme    *runtime.Scheme
}

// get reads obj from the cache, and from the API server when the cache lacks it (an object
// Fledge does not manage yet is not in the cache).
func (c Clients) get(ctx context.Context, key client.ObjectKey, obj client.Object, kind string) (bool, error) {
	err := c.Client.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) && c.APIReader != nil {
		err = c.APIReader.Get(ctx, key, obj)
	}
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read %s %s: %w", kind, key, err)
	}
	return true, nil
}

// own is ownership.Claim with the adapters' scheme, which every router has at hand here.
func (c Clients) own(canary *fledgev1alpha1.Canary, obj client.Object) (bool, error) {
	return ownership.Claim(obj, canary, c.Scheme)
}
