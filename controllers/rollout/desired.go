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
		d.Match = inMatchStep(spec, st)
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
	d.Match = inMatchStep(spec, st)
	return d
}

// inMatchStep reports whether the rollout is at an A/B step.
func inMatchStep(spec *fledgev1alpha1.CanarySpec, st *fledgev1alpha1.CanaryStatus) bool {
	steps := Steps(spec.Analysis)
	i := int(st.StepIndex)
	return st.Phase == fledgev1alpha1.PhaseProgressing && i >= 1 && i <= len(steps) && steps[i-1].Match
}
