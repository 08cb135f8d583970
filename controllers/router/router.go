// Package router routes a canary's traffic between its primary and canary versions. Each mesh
// gets one implementation of Router; the rollout logic never touches mesh types.
package router

import (
	"context"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/rollout"
)

// Result says what Reconcile changed.
type Result struct {
	// Created is true when routing objects were created.
	Created bool
	// Updated is true when existing routing objects were changed.
	Updated bool
	// Repaired is true when one of them had been edited outside Fledge and was put back.
	Repaired bool
}

// Router routes a canary's traffic.
type Router interface {
	// Reconcile makes the routing objects send traffic as routes say, and verifies what the
	// API server stored.
	Reconcile(ctx context.Context, canary *fledgev1alpha1.Canary, routes rollout.Routes) (Result, error)
	// Finalize hands routing back when the Canary is deleted: the user's original routes when
	// there were some, else the given routes, which send everything to one version. The
	// service keeps running.
	Finalize(ctx context.Context, canary *fledgev1alpha1.Canary, settled rollout.Routes) error
	// Remove hands routing back to the Service itself, when the Canary is deleted with
	// revertOnDeletion: the user's original routes are put back, Fledge's own removed.
	Remove(ctx context.Context, canary *fledgev1alpha1.Canary) error
}

// ServiceName is the name of the Service, DestinationRule and VirtualService of a canary.
func ServiceName(canary *fledgev1alpha1.Canary) string {
	return canary.ServiceName()
}
