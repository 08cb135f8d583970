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

	// QueueFull, when set, says why no rollout may start now: the cap on simultaneous
	// rollouts is reached (asked of the reconciler when WantsSlot); "" lets one start.
	QueueFull string

	// Checks is the verdict of the checks that the Decision of this same observation asked
	// for (Decision.Check); nil otherwise.
	Checks *analysis.Result
	// ChecksStarted is when those checks started: the step's interval counts from then.
	ChecksStarted time.Time
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
