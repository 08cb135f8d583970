package rollout

import (
	"time"

	"k8s.io/apimachinery/pkg/api/equality"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// Names of the subsets of Fledge's own copies.
const (
	SubsetPrimary = "primary"
	SubsetCanary  = "canary"
)

// Routes is where a canary's traffic must go, every default applied: a router writes them as
// they are and reads nothing else of the rollout from the spec.
type Routes struct {
	// PrimarySubset and CanarySubset name the subsets of the two versions: primary and
	// canary for Fledge's copies, or the user's own stable and candidate subsets.
	PrimarySubset string
	CanarySubset  string
	// UserSubsets is true when those are the user's own subsets (spec.subsets): the user's
	// DestinationRule defines them, and Fledge writes only the VirtualService.
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
	// KeepCanarySubset keeps the canary's subset defined after the last route to it is gone,
	// while the sidecars may still send to it (the scale-down delay of an ended rollout).
	KeepCanarySubset bool
}

// StickyCookie is the cookie of session affinity: canary answers set Name=Value, and requests
// that carry it go to the canary. The value is the rollout's ID, so that it means nothing to
// the next rollout.
type StickyCookie struct {
	Name, Value string
	MaxAge      time.Duration
}

// UsesCanary reports whether any request may reach the canary: a share of the split, a
// match, testers, a mirror or the sticky cookie.
func (r Routes) UsesCanary() bool {
	return r.CanaryWeight > 0 || len(r.Match) > 0 || len(r.Testers) > 0 || r.MirrorPercentage > 0 || r.Sticky != nil
}

// Equal reports whether two routes send the traffic alike, matches and faults included.
func (r Routes) Equal(o Routes) bool { return equality.Semantic.DeepEqual(r, o) }

// SameWeights reports whether two routes split the traffic alike.
func (r Routes) SameWeights(o Routes) bool {
	return r.PrimarySubset == o.PrimarySubset && r.CanarySubset == o.CanarySubset &&
		r.PrimaryWeight == o.PrimaryWeight && r.CanaryWeight == o.CanaryWeight
}
