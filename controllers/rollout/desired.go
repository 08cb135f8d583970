package rollout

import (
	"time"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// Desired is what the cluster must look like for a canary status. It is derived from the spec
// and the status alone, so that after a restart the same status yields the same world.
type Desired struct {
	// PrimaryRevision is the revision the primary must carry ("" on the user's subsets).
	PrimaryRevision string
	// CanaryRevision is the revision the canary copy must carry ("" before any rollout).
	CanaryRevision string
	// PrimaryReplicas and CanaryReplicas are the sizes of the two copies.
	PrimaryReplicas int32
	CanaryReplicas  int32
	// ScaleDownTarget keeps the user's Deployment at zero replicas once the primary serves.
	ScaleDownTarget bool
	// RoutesEnabled is false while the primary is first made ready: the routes are not
	// touched until it can serve.
	RoutesEnabled bool
	// Routes is where the traffic goes, when RoutesEnabled.
	Routes Routes
}

// DesiredFor returns what the cluster must look like for status at now.
func DesiredFor(spec *fledgev1alpha1.CanarySpec, st *fledgev1alpha1.CanaryStatus, now time.Time) Desired {
	m := modeOf(spec)
	d := m.versions(st)
	d.Routes = routesFor(spec, st, m)
	if until, ok := drainingUntil(spec, st); ok && now.Before(until) {
		// The routes have left the canary, but the sidecars may not have them yet.
		d.Routes.KeepCanarySubset = true
		d.CanaryReplicas = st.Replicas
	}
	return d
}

// drainingUntil is when an ended rollout's canary may go: the scale-down delay after the
// routes stopped sending to it. ok is false when no rollout has ended, and on the user's own
// subsets (whose Deployments Fledge does not size).
func drainingUntil(spec *fledgev1alpha1.CanarySpec, st *fledgev1alpha1.CanaryStatus) (until time.Time, ok bool) {
	if !modeOf(spec).sizesVersions() {
		return time.Time{}, false
	}
	phase := endedPhase(st)
	ended := phase == fledgev1alpha1.PhaseSucceeded || phase == fledgev1alpha1.PhaseFailed
	if !ended || st.CanaryRevision == "" || st.LastTransitionTime == nil {
		return time.Time{}, false
	}
	return st.LastTransitionTime.Add(spec.ScaleDownDelay()), true
}

// Settled is where the traffic goes once the Canary is deleted: all of it to the version that
// was last promoted, as when a rollout ends.
func Settled(spec *fledgev1alpha1.CanarySpec, st *fledgev1alpha1.CanaryStatus) Routes {
	ended := st.DeepCopy()
	if ended.Phase = endedPhase(st); ended.Phase != fledgev1alpha1.PhaseSucceeded {
		ended.Phase = fledgev1alpha1.PhaseFailed // a rollout cut short goes back to the primary
	}
	ended.CanaryWeight = modeOf(spec).endWeight(ended.Phase)
	ended.StepIndex = 0
	return routesFor(spec, ended, modeOf(spec))
}

// routesFor returns the routes of a status: the split of its weight, and during a step the
// routes that pick requests (the A/B match, the mirror, the testers, the sticky cookie, the
// faults), which exist only while the canary serves a running rollout.
func routesFor(spec *fledgev1alpha1.CanarySpec, st *fledgev1alpha1.CanaryStatus, m mode) Routes {
	r := Routes{CanaryWeight: st.CanaryWeight}
	r.PrimarySubset, r.CanarySubset, r.UserSubsets = m.subsets()
	if st.Phase == fledgev1alpha1.PhasePromoting {
		r.CanaryWeight = 100
	}
	r.PrimaryWeight = 100 - r.CanaryWeight

	steps := Steps(spec.Analysis)
	i := int(st.StepIndex)
	if st.Phase != fledgev1alpha1.PhaseProgressing || i < 1 || i > len(steps) {
		return r
	}
	a, step := &spec.Analysis, steps[i-1]
	if step.Match {
		r.Match = a.Match
	}
	if step.Mirror {
		r.MirrorPercentage = a.Mirror.Percentage
		if r.MirrorPercentage == 0 {
			r.MirrorPercentage = fledgev1alpha1.DefaultMirrorPercentage
		}
	}
	r.Testers = a.Testers
	if affinity := a.SessionAffinity; affinity != nil && step.Weight > 0 {
		r.Sticky = &StickyCookie{Name: affinity.CookieName, Value: st.RolloutID, MaxAge: fledgev1alpha1.DefaultSessionMaxAge}
		if r.Sticky.Name == "" {
			r.Sticky.Name = fledgev1alpha1.DefaultSessionCookie
		}
		if affinity.MaxAge != nil {
			r.Sticky.MaxAge = affinity.MaxAge.Duration
		}
	}
	if step.Fault {
		r.Faults = a.FaultInjection
	}
	return r
}
