// Package router routes a canary's traffic between its primary and canary versions. Each mesh
// gets one implementation of Router; the rollout logic never touches mesh types.
package router

import (
	"context"
	"time"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// Routes is where a canary's traffic must go.
type Routes struct {
	// PrimarySubset and CanarySubset name the subsets of the two versions: primary and
	// canary for Fledge's copies, or the user's own stable and candidate subsets.
	PrimarySubset string
	CanarySubset  string
	// UserSubsets is true when those are the user's own subsets (spec.subsets).
	UserSubsets bool
	// PrimaryWeight and CanaryWeight split the traffic; they add up to 100.
	PrimaryWeight int32
	CanaryWeight  int32
	// Match, during an A/B step, selects the requests that go to the canary whatever the
	// weights.
	Match []fledgev1alpha1.HTTPMatch
	// Testers are requests that go to the canary whatever the weights (a QA team's).
	Testers []fledgev1alpha1.HTTPMatch
	// MirrorPercentage, when above zero, copies that share of the split traffic to the
	// canary; its answers are discarded.
	MirrorPercentage int32
	// Sticky, when set, keeps users who landed on the canary on it with a cookie.
	Sticky *StickyCookie
	// Faults, when set, are injected into the canary's calls to a dependency.
	Faults *fledgev1alpha1.FaultInjection
}

// StickyCookie is the cookie of session affinity: canary answers set Name=Value, and requests
// that carry it go to the canary.
type StickyCookie struct {
	Name, Value string
	MaxAge      time.Duration
}

// UsesCanary reports whether any request may reach the canary: a share of the split, a
// match, testers, a mirror or the sticky cookie. Without one, Fledge's own canary subset is
// left out of the routes: its Deployment has no pods then, and a subset that selects none is
// an error to Istio's analyzers (IST0173), though no request reaches it.
func (r Routes) UsesCanary() bool {
	return r.CanaryWeight > 0 || len(r.Match) > 0 || len(r.Testers) > 0 || r.MirrorPercentage > 0 || r.Sticky != nil
}

// Same reports whether two routes send the traffic alike (the matches of a canary's spec are
// compared by presence: they change only with the spec).
func (r Routes) Same(o Routes) bool {
	return r.SameWeights(o) && len(r.Match) == len(o.Match) && len(r.Testers) == len(o.Testers) &&
		r.MirrorPercentage == o.MirrorPercentage && (r.Sticky == nil) == (o.Sticky == nil) && (r.Faults == nil) == (o.Faults == nil)
}

// SameWeights reports whether two routes split the traffic alike.
func (r Routes) SameWeights(o Routes) bool {
	return r.PrimarySubset == o.PrimarySubset && r.CanarySubset == o.CanarySubset &&
		r.PrimaryWeight == o.PrimaryWeight && r.CanaryWeight == o.CanaryWeight
}

// RoutesFor returns the routes of a canary for the weights of its rollout.
func RoutesFor(canary *fledgev1alpha1.Canary, primaryWeight, canaryWeight int32) Routes {
	r := Routes{PrimarySubset: SubsetPrimary, CanarySubset: SubsetCanary, PrimaryWeight: primaryWeight, CanaryWeight: canaryWeight}
	if s := canary.Spec.Subsets; s != nil {
		r.PrimarySubset, r.CanarySubset, r.UserSubsets = s.Stable, s.Candidate, true
	}
	return r
}

// Result says what Reconcile changed.
type Result struct {
	// Created is true when routing objects were created.
	Created bool
	// Updated is true when existing routing objects were changed; when the routes asked for
	// did not change, that means someone else had edited them and Fledge put them back.
	Updated bool
}

// Router routes a canary's traffic.
type Router interface {
	// Reconcile makes the routing objects send traffic as routes say, and verifies what the
	// API server stored.
	Reconcile(ctx context.Context, canary *fledgev1alpha1.Canary, routes Routes) (Result, error)
	// Finalize hands routing back when the Canary is deleted: the user's original routes when
	// there were some, else the given routes, which send everything to one version. The
	// service keeps running.
	Finalize(ctx context.Context, canary *fledgev1alpha1.Canary, settled Routes) error
}

// ServiceName is the name of the Service, DestinationRule and VirtualService of a canary.
func ServiceName(canary *fledgev1alpha1.Canary) string {
	if canary.Spec.Service.Name != "" {
		return canary.Spec.Service.Name
	}
	return canary.Spec.TargetRef.Name
}

// Subset names in the DestinationRule.
const (
	SubsetPrimary = "primary"
	SubsetCanary  = "canary"
)
