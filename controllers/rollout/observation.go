// Package rollout decides the next move of a canary from what was observed. It is pure: no
// clients, no clock of its own, so that every rollout story is a table test.
package rollout

import (
	"time"

	"fledge.dev/fledge/analysis"
	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// Observation is everything Decide may look at.
type Observation struct {
	// Now is the time of the observation (an injected clock).
	Now time.Time
	// Generation of the Canary's spec.
	Generation int64
	Spec       fledgev1alpha1.CanarySpec
	Status     fledgev1alpha1.CanaryStatus

	// Target is the user's Deployment, the source of new revisions.
	Target Workload
	// Primary is Fledge's copy of the last promoted revision.
	Primary Workload
	// Canary is Fledge's copy of the revision under analysis.
	Canary Workload

	// Checks is the verdict of the step's checks when the reconciler ran them (because
	// ChecksDue said so and the canary was ready); nil otherwise.
	Checks *analysis.Result
}

// Workload is what was seen of one Deployment.
type Workload struct {
	// Exists is false when the Deployment is not there.
	Exists bool
	// Revision identifies the pod template: computed for the target, recorded on the copies.
	Revision string
	// Replicas is the Deployment's spec.replicas.
	Replicas int32
	// Ready is true when every replica runs the current template and is available, and no
	// old pod is left (what `kubectl rollout status` waits for).
	Ready bool
	// Progress says how far it is, for a person ("2 of 3 updated replicas are available").
	Progress string
}

// ChecksDue reports whether the current step's checks must run in this reconcile.
func ChecksDue(obs *Observation) bool {
	st := &obs.Status
	if obs.Spec.Suspend || pausedAfterRequest(st) || st.Phase != fledgev1alpha1.PhaseProgressing || st.StepIndex < 1 {
		return false
	}
	if obs.Target.Revision != st.CanaryRevision {
		return false // the rollout restarts instead
	}
	return !obs.Now.Before(nextCheck(obs))
}

func nextCheck(obs *Observation) time.Time {
	if obs.Status.LastCheckTime == nil {
		return obs.Now
	}
	return obs.Status.LastCheckTime.Add(Interval(&obs.Spec))
}

// pausedAfterRequest is whether the rollout will be paused once a pending Pause or Resume
// request is handled, so that checks run in the same reconcile that resumes a rollout.
func pausedAfterRequest(st *fledgev1alpha1.CanaryStatus) bool {
	if req := st.Request; req != nil && (st.LastHandledRequest == nil || st.LastHandledRequest.ID != req.ID) {
		switch req.Action {
		case fledgev1alpha1.RequestPause:
			return true
		case fledgev1alpha1.RequestResume:
			return false
		}
	}
	return st.Paused
}
