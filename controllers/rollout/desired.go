package rollout

import fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"

// Desired is what the cluster must look like for a canary status. It is derived from the
// status alone, so that after a restart the same status yields the same world.
type Desired struct {
	// PrimaryRevision is the revision the primary must carry.
	PrimaryRevision string
	// CanaryRevision is the revision the canary copy must carry ("" before any rollout).
	CanaryRevision string
	// PrimaryReplicas and CanaryReplicas are the sizes of the two copies.
	PrimaryReplicas int32
	CanaryReplicas  int32
	// RoutesEnabled is false while the primary is first made ready: the routes are not
	// touched until it can serve.
	RoutesEnabled bool
	// PrimaryWeight and CanaryWeight split the traffic; they add up to 100.
	PrimaryWeight int32
	CanaryWeight  int32
	// ScaleDownTarget keeps the user's Deployment at zero replicas once the primary serves.
	ScaleDownTarget bool
	// Match sends the requests that match spec.analysis.match to the canary (A/B testing).
	Match bool
	// MirrorPercentage, when above zero, copies that share of live traffic to the canary.
	MirrorPercentage int32
	// Testers sends the requests of spec.analysis.testers to the canary.
	Testers bool
	// Sticky keeps the users who landed on the canary on it (spec.analysis.sessionAffinity),
	// with a cookie whose value is the RolloutID, so that it means nothing to the next rollout.
	Sticky    bool
	RolloutID string
	// Faults injects spec.analysis.faultInjection into the canary's calls to its dependency.
	Faults bool
}

// DesiredFor returns what the cluster must look like for status.
func DesiredFor(spec *fledgev1alpha1.CanarySpec, st *fledgev1alpha1.CanaryStatus) Desired {
	if existingSubsets(spec) {
		// The user's own Deployments: only the weights between the two subsets are Fledge's.
		d := Desired{RoutesEnabled: st.Phase != "" && st.Phase != fledgev1alpha1.PhaseInitializing, CanaryWeight: st.CanaryWeight}
		if st.Phase == fledgev1alpha1.PhasePromoting {
			d.CanaryWeight = 100
		}
		d.PrimaryWeight = 100 - d.CanaryWeight
		d.setRequestRoutes(spec, st)
		return d
	}
	d := Desired{
		PrimaryRevision: st.LastPromotedRevision,
		CanaryRevision:  st.CanaryRevision,
		PrimaryReplicas: st.Replicas,
		RoutesEnabled:   st.Phase != "" && st.Phase != fledgev1alpha1.PhaseInitializing,
		CanaryWeight:    st.CanaryWeight,
	}
	switch st.Phase {
	case fledgev1alpha1.PhaseProgressing:
		d.CanaryReplicas = st.Replicas
	case fledgev1alpha1.PhasePromoting:
		d.CanaryReplicas = st.Replicas
		d.PrimaryRevision = st.CanaryRevision
		d.CanaryWeight = 100
	}
	d.PrimaryWeight = 100 - d.CanaryWeight
	d.ScaleDownTarget = d.RoutesEnabled
	d.setRequestRoutes(spec, st)
	return d
}

// setRequestRoutes sets the routes that pick requests rather than weights: the A/B match,
// the mirror, the testers' route. They exist only while the canary serves a running rollout.
func (d *Desired) setRequestRoutes(spec *fledgev1alpha1.CanarySpec, st *fledgev1alpha1.CanaryStatus) {
	steps := Steps(spec.Analysis)
	i := int(st.StepIndex)
	if st.Phase != fledgev1alpha1.PhaseProgressing || i < 1 || i > len(steps) {
		return
	}
	d.Match = steps[i-1].Match
	if steps[i-1].Mirror {
		d.MirrorPercentage = spec.Analysis.Mirror.Percentage
		if d.MirrorPercentage == 0 {
			d.MirrorPercentage = 100
		}
	}
	d.Testers = len(spec.Analysis.Testers) > 0
	d.Sticky = spec.Analysis.SessionAffinity != nil && steps[i-1].Weight > 0
	d.RolloutID = st.RolloutID
	d.Faults = steps[i-1].Fault
}
