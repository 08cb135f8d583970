package v1alpha1

// Reasons of the Events Fledge records on a Canary. They are a stable contract: Slack
// messages, `kubectl fledge`, the outbox and people's alerts key on them.
const (
	// ReasonInitialized: the primary is ready and serves all traffic.
	ReasonInitialized = "Initialized"
	// ReasonStarted: a new revision of the target starts a rollout (also a retry).
	ReasonStarted = "RolloutStarted"
	// ReasonRestarted: the target changed during a rollout, which starts again.
	ReasonRestarted = "RolloutRestarted"
	// ReasonCancelled: the target went back to the promoted revision during a rollout.
	ReasonCancelled = "RolloutCancelled"
	// ReasonAdvanced: the rollout moved to its next step.
	ReasonAdvanced = "Advanced"
	// ReasonHalted: a check failed; the step holds until the threshold aborts it.
	ReasonHalted = "Halted"
	// ReasonWaiting: a step holds without a verdict (too little traffic to judge).
	ReasonWaiting = "Waiting"
	// ReasonPromoting: all traffic goes to the canary while the primary takes its revision.
	ReasonPromoting = "Promoting"
	// ReasonPromoted: the revision was promoted; the primary serves all traffic.
	ReasonPromoted = "Promoted"
	// ReasonAborted: the rollout was aborted; all traffic is back on the primary.
	ReasonAborted = "Aborted"
	// ReasonRequestAccepted and ReasonRequestRejected: what became of a manual request.
	ReasonRequestAccepted = "RequestAccepted"
	ReasonRequestRejected = "RequestRejected"
	// ReasonReplicasAdjusted: each version now runs the replicas the target asks for.
	ReasonReplicasAdjusted = "ReplicasAdjusted"
	// ReasonQueued: a new revision waits for a slot under the cap on simultaneous rollouts.
	ReasonQueued = "RolloutQueued"
	// ReasonDequeued: the revision that waited is no longer the target's; nothing starts.
	ReasonDequeued = "RolloutDequeued"
	// ReasonReplanned: the step plan was edited during a rollout, which goes on from the
	// weight it had reached.
	ReasonReplanned = "Replanned"
)

// Reasons of the Ready condition (and of its Warning events) when a Canary cannot be acted
// on until something is fixed.
const (
	// ReasonInvalidRoutes: the spec holds a route Istio would refuse (a regex that does not
	// compile, ...); no route is written until it is fixed.
	ReasonInvalidRoutes = "InvalidRoutes"
	// ReasonTargetNotFound: spec.targetRef names no Deployment.
	ReasonTargetNotFound = "TargetNotFound"
	// ReasonDraining: a deleted Canary's traffic is back on the primary, and the canary keeps
	// running for the scale-down delay, until every sidecar has the routes.
	ReasonDraining = "Draining"
	// ReasonApplyFailed: a write to the cluster failed; it is retried.
	ReasonApplyFailed = "ApplyFailed"
	// ReasonMetricsUnavailable: a metrics provider did not answer when a rollout started.
	ReasonMetricsUnavailable = "MetricsUnavailable"
	// ReasonChecksTimedOut (MetricsReady): the checks did not finish within the interval; the
	// check counts as failed.
	ReasonChecksTimedOut = "ChecksTimedOut"
	// ReasonChecksQueued (MetricsReady): every check worker was busy for a whole interval; the
	// step holds without a verdict.
	ReasonChecksQueued = "ChecksQueued"
	// ReasonRoutesRepaired: someone else edited the routes; Fledge put them back.
	ReasonRoutesRepaired = "RoutesRepaired"
	// ReasonFinalized: the Canary was deleted and the routes handed back.
	ReasonFinalized = "Finalized"
	// ReasonReverting: a Canary deleted with revertOnDeletion waits for its target to serve.
	ReasonReverting = "Reverting"
	// ReasonNotReverted: a Canary deleted with revertOnDeletion left the primary serving.
	ReasonNotReverted = "NotReverted"
)

// IsRolloutTransition reports whether an event of this reason belongs to a rollout's story,
// which Slack tells in the rollout's message, rather than to the Canary's upkeep
// (initialisation, replica changes). Requests belong to it only while a rollout runs.
func IsRolloutTransition(reason string, phase CanaryPhase) bool {
	switch reason {
	case ReasonStarted, ReasonRestarted, ReasonCancelled, ReasonAdvanced, ReasonWaiting,
		ReasonHalted, ReasonPromoting, ReasonPromoted, ReasonAborted:
		return true
	case ReasonRequestAccepted, ReasonRequestRejected:
		return phase == PhaseProgressing || phase == PhasePromoting
	}
	return false
}
