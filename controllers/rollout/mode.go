package rollout

import fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"

// mode is how a Canary's two versions run: as Fledge's own copies of the target (primary and
// canary), or as two subsets of the user's that Fledge only routes between. It is chosen once,
// by modeOf; nothing else in the package asks which one it is.
type mode interface {
	// stable is the revision that serves before the first rollout, and whether it serves yet.
	stable(obs *Observation, replicas int32) (revision string, serving bool)
	// sizesVersions is whether Fledge sizes the versions from the target's replicas.
	sizesVersions() bool
	// ready is whether w runs with the replicas a version needs.
	ready(w Workload, replicas int32) bool
	// primaryTook is whether the primary serves revision, which ends a promotion.
	primaryTook(obs *Observation, revision string, replicas int32) bool
	// endWeight is the canary's share once a rollout ended in phase.
	endWeight(phase fledgev1alpha1.CanaryPhase) int32
	// versions is what the Deployments must look like for a status.
	versions(st *fledgev1alpha1.CanaryStatus) Desired
	// subsets names the subsets of the two versions, and whether they are the user's.
	subsets() (primary, canary string, users bool)
}

func modeOf(spec *fledgev1alpha1.CanarySpec) mode {
	if spec.Subsets != nil {
		return userSubsets{spec.Subsets}
	}
	return ownCopies{}
}

// ownCopies runs the versions as Fledge's copies of the target: the primary carries the last
// promoted revision, the canary the one under analysis, the target itself is kept at zero.
type ownCopies struct{}

func (m ownCopies) stable(obs *Observation, replicas int32) (string, bool) {
	return obs.Target.Revision, m.primaryTook(obs, obs.Target.Revision, replicas)
}

func (ownCopies) sizesVersions() bool { return true }

func (ownCopies) ready(w Workload, replicas int32) bool {
	return w.Exists && w.Ready && w.Replicas == replicas
}

func (m ownCopies) primaryTook(obs *Observation, revision string, replicas int32) bool {
	return m.ready(obs.Primary, replicas) && obs.Primary.Revision == revision
}

func (ownCopies) endWeight(fledgev1alpha1.CanaryPhase) int32 { return 0 }

func (ownCopies) versions(st *fledgev1alpha1.CanaryStatus) Desired {
	d := Desired{
		PrimaryRevision: st.LastPromotedRevision,
		CanaryRevision:  st.CanaryRevision,
		PrimaryReplicas: st.Replicas,
		RoutesEnabled:   routesEnabled(st),
	}
	switch st.Phase {
	case fledgev1alpha1.PhaseProgressing:
		d.CanaryReplicas = st.Replicas
	case fledgev1alpha1.PhasePromoting:
		d.CanaryReplicas = st.Replicas
		d.PrimaryRevision = st.CanaryRevision
	}
	d.ScaleDownTarget = d.RoutesEnabled
	return d
}

func (ownCopies) subsets() (string, string, bool) { return SubsetPrimary, SubsetCanary, false }

// userSubsets routes between two subsets of the user's DestinationRule; the user's own
// Deployments run them, and Fledge neither sizes nor changes them. A promoted candidate keeps
// all the traffic.
type userSubsets struct {
	s *fledgev1alpha1.ExistingSubsets
}

func (m userSubsets) stable(*Observation, int32) (string, bool) { return StableRevision(m.s), true }

func (userSubsets) sizesVersions() bool { return false }

func (userSubsets) ready(w Workload, _ int32) bool { return w.Exists && w.Ready && w.Replicas > 0 }

func (userSubsets) primaryTook(*Observation, string, int32) bool { return true }

func (userSubsets) endWeight(phase fledgev1alpha1.CanaryPhase) int32 {
	if phase == fledgev1alpha1.PhaseSucceeded {
		return 100
	}
	return 0
}

func (userSubsets) versions(st *fledgev1alpha1.CanaryStatus) Desired {
	return Desired{RoutesEnabled: routesEnabled(st)}
}

func (m userSubsets) subsets() (string, string, bool) { return m.s.Stable, m.s.Candidate, true }

// StableRevision stands for the revision of a stable subset the user manages.
func StableRevision(s *fledgev1alpha1.ExistingSubsets) string { return "subset " + s.Stable }

// routesEnabled is false while the primary is first made ready.
func routesEnabled(st *fledgev1alpha1.CanaryStatus) bool {
	return st.Phase != "" && st.Phase != fledgev1alpha1.PhaseInitializing
}
