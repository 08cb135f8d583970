// Package controllers holds Fledge's reconcilers. The Canary reconciler reads what it needs
// from the informer cache, asks the rollout package for the next move, brings the Deployments,
// Services and routes in line with it, and records it in the Canary's status.
package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/alerts"
	"fledge.dev/fledge/controllers/fence"
	"fledge.dev/fledge/controllers/rollout"
	"fledge.dev/fledge/controllers/router"
	"fledge.dev/fledge/controllers/workload"
)

// Finalizer lets Fledge hand traffic back before a Canary goes away.
const Finalizer = "fledge.dev/finalizer"

// CanaryReconciler drives Canaries.
type CanaryReconciler struct {
	// Client reads from the informer cache and writes to the API server.
	Client ctrl.Client
	Scheme *runtime.Scheme
	Clock  clock.PassiveClock
	Events events.EventRecorder

	Router    router.Router
	Services  *router.Services
	Workloads *workload.Deployments
	Configs   *workload.ConfigHashes

	// Alerts delivers the notifications queued in status, in the background.
	Alerts *alerts.Dispatcher
	// DefaultAlertProvider (namespace/name) is told about Canaries that name no alert.
	DefaultAlertProvider string
	// ClusterDomain is the DNS domain of the cluster's Services.
	ClusterDomain string

	// fresh tells whether the cache already holds the status this controller last wrote.
	fresh freshness
	// checks runs the checks of rollouts, apart from the reconcile workers.
	checks *checkRunner
	// transitions creates the Events of the decisions, once each.
	transitions *transitionEvents
	// slots caps the rollouts that run at once (nil: no cap).
	slots *rolloutSlots
	// shards, when the Canaries are shared among replicas, says which this replica owns
	// (nil: it owns all); shardWake enqueues the Canaries of a shard it takes.
	shards    Shards
	shardWake chan event.GenericEvent
}

// +kubebuilder:rbac:groups=fledge.dev,resources=canaries,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=fledge.dev,resources=canaries/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=fledge.dev,resources=canaries/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups="",resources=configmaps;secrets,verbs=get;list;watch;create;update;patch
// The fault-injection gate deletes the VirtualService of its dependency when its iterations end;
// a Canary deleted with revertOnDeletion deletes the VirtualService and DestinationRule it created.
// +kubebuilder:rbac:groups=networking.istio.io,resources=destinationrules;virtualservices,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=fledge.dev,resources=metrictemplates;alertproviders,verbs=get;list;watch
// A restarted manager looks up the last Event of a decision before it creates them again.
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=get;create;patch

// Reconcile reads, decides, acts, and records the decision.
func (r *CanaryReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	if r.shards != nil {
		done, ok := r.shards.Begin(req.NamespacedName)
		if !ok {
			return reconcile.Result{}, nil // another replica's; this one's again when it takes the shard
		}
		defer done()
	}
	// The writes made for this Canary pass the fence only while this replica owns it.
	ctx = fence.ForCanary(ctx, req.NamespacedName)
	canary := &fledgev1alpha1.Canary{}
	if err := r.Client.Get(ctx, req.NamespacedName, canary); err != nil {
		if apierrors.IsNotFound(err) {
			forgetMetrics(req.Namespace, req.Name)
			r.checks.drop(req.NamespacedName)
			r.slots.forget(req.NamespacedName)
		}
		return reconcile.Result{}, ctrl.IgnoreNotFound(err)
	}
	if !r.fresh.seen(canary) {
		// The cache lags behind our last status write; deciding on old status could undo it.
		return reconcile.Result{RequeueAfter: 50 * time.Millisecond}, nil
	}
	if !canary.DeletionTimestamp.IsZero() {
		r.transitions.forget(canary.UID)
		r.slots.forget(req.NamespacedName)
		return r.finalize(ctx, canary)
	}
	// Events a crash or a failure left uncreated; the decision goes on either way.
	eventsBehind := !r.transitions.sync(ctx, canary, canary.Status.Events, r.Clock.Now())
	if !controllerutil.ContainsFinalizer(canary, Finalizer) {
		patch := ctrl.MergeFrom(canary.DeepCopy())
		controllerutil.AddFinalizer(canary, Finalizer)
		return reconcile.Result{}, r.Client.Patch(ctx, canary, patch)
	}
	// What Istio would refuse and admission could not tell, and hosts past the Canary's own
	// Service: no route is written, no rollout starts, until the spec is fixed (the spec's
	// change wakes the reconciler).
	if errs := append(canary.Spec.RouteErrors(), canary.HostErrors(r.ClusterDomain)...); len(errs) > 0 {
		r.slots.forget(req.NamespacedName) // a rollout that cannot start takes no turn
		return reconcile.Result{}, r.reportProblem(ctx, canary, fledgev1alpha1.ReasonInvalidRoutes, describeRouteErrors(errs))
	}

	versions := r.versionsOf(canary)
	set, err := versions.read(ctx, canary)
	if err != nil {
		return reconcile.Result{}, err
	}
	obs := r.observe(canary, versions, set)
	if r.slots != nil && rollout.WantsSlot(&obs) { // without a cap, no decision is probed
		if obs.QueueFull, err = r.slots.acquire(ctx, canary, obs.Now); err != nil {
			return reconcile.Result{}, err
		}
	}
	decision := r.decide(canary, versions, &obs)
	queueNotifications(canary, &decision.Status, decision.Events, obs.Now, r.DefaultAlertProvider)
	recordEvents(&decision.Status, decision.Events, obs.Now, r.transitions.createdUpTo(canary.UID))

	// Record first, then act: the status write is the commit point of the decision. It is
	// made on the resourceVersion the decision read, so a decision made on a status that has
	// changed since (a manual request, another replica, a leader that resumes after a freeze)
	// is refused before anything acts on it. What act does is derived from the recorded status
	// alone (Decision.Want), so a crash between the write and the acts is carried through by
	// the next reconcile from the same status, never undone by a second judgement.
	wanted := holdApplyFailure(&canary.Status, &decision.Status)
	if err := r.writeStatus(ctx, canary, decision.Status); err != nil {
		if apierrors.IsConflict(err) {
			// Someone wrote the Canary since the cache gave it to us: decide again on theirs.
			return reconcile.Result{RequeueAfter: 100 * time.Millisecond}, nil
		}
		return reconcile.Result{}, err
	}
	if err := r.slots.settle(ctx, canary); err != nil {
		return reconcile.Result{}, err
	}
	// What was decided is told now that it is recorded, whatever becomes of the acts.
	if !r.tell(ctx, canary, &obs, decision) {
		eventsBehind = true
	}
	if err := r.act(ctx, canary, versions, set, decision); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
			// The cache was behind our own writes; look again once it has caught up.
			return reconcile.Result{RequeueAfter: 100 * time.Millisecond}, nil
		}
		return reconcile.Result{}, errors.Join(err, r.reportProblem(ctx, canary, fledgev1alpha1.ReasonApplyFailed, err.Error()))
	}
	if wanted != nil {
		// The acts that had failed went through: the Canary is what the decision says again.
		if err := r.writeStatus(ctx, canary, *wanted); err != nil && !apierrors.IsConflict(err) {
			return reconcile.Result{}, err
		}
	}
	requeue := decision.RequeueAfter
	if eventsBehind && (requeue == 0 || requeue > eventsRetry) {
		requeue = eventsRetry
	}
	return reconcile.Result{RequeueAfter: requeue}, nil
}

// eventsRetry is how soon a Canary whose Events could not all be created looks again.
const eventsRetry = time.Second

// holdApplyFailure keeps the Canary not Ready, with the failure's message, while the acts of
// its decisions fail: the decision knows nothing of them and would say Ready again at every
// retry. It returns the status the decision wanted, to record once an act goes through (nil
// when no failure is held).
func holdApplyFailure(before, decided *fledgev1alpha1.CanaryStatus) *fledgev1alpha1.CanaryStatus {
	failed := meta.FindStatusCondition(before.Conditions, fledgev1alpha1.ConditionReady)
	if failed == nil || failed.Reason != fledgev1alpha1.ReasonApplyFailed {
		return nil
	}
	wanted := decided.DeepCopy()
	decided.Message = before.Message
	meta.SetStatusCondition(&decided.Conditions, *failed)
	return wanted
}

// observe gathers what the decision looks at.
func (r *CanaryReconciler) observe(canary *fledgev1alpha1.Canary, v versions, set workload.Set) rollout.Observation {
	obs := rollout.Observation{Now: r.Clock.Now(), Generation: canary.Generation, Spec: canary.Spec, Status: canary.Status}
	obs.Target, obs.Primary, obs.Canary = v.observe(set)
	return obs
}

// decide asks for the next move; when the decision asks for the step's checks, it decides
// again with their verdict once the check runner has it.
func (r *CanaryReconciler) decide(canary *fledgev1alpha1.Canary, v versions, obs *rollout.Observation) rollout.Decision {
	decision := rollout.Decide(*obs)
	if decision.Check == nil {
		r.checks.drop(ctrl.ObjectKeyFromObject(canary))
		return decision
	}
	if obs.Checks, obs.ChecksStarted = r.checks.verdict(canary, v.measured(canary), *decision.Check); obs.Checks == nil {
		return decision // the checks run apart; their verdict wakes the Canary
	}
	return rollout.Decide(*obs)
}

// tell records what happened after the status is written: metrics, events, notifications,
// and the probe of the metrics providers a starting rollout asked for. It reports false when
// some Event could not be created yet.
func (r *CanaryReconciler) tell(ctx context.Context, canary *fledgev1alpha1.Canary, obs *rollout.Observation, decision rollout.Decision) bool {
	// obs.Status is the status before the write (Decide works on a deep copy of it).
	observeMetrics(canary, &obs.Status, &decision.Status, obs)
	created := r.emit(ctx, canary, decision)
	if r.Alerts != nil && alerts.Pending(canary, r.DefaultAlertProvider) {
		r.Alerts.Enqueue(ctrl.ObjectKeyFromObject(canary))
	}
	if decision.Preflight {
		r.checks.preflight(ctx, canary)
	}
	return created
}

// writeStatus patches the status when the decision changed it, and only then, on the
// resourceVersion it was decided on (a conflict means the decision is stale).
func (r *CanaryReconciler) writeStatus(ctx context.Context, canary *fledgev1alpha1.Canary, status fledgev1alpha1.CanaryStatus) error {
	if equality.Semantic.DeepEqual(canary.Status, status) {
		return nil
	}
	patch := ctrl.MergeFromWithOptions(canary.DeepCopy(), ctrl.MergeFromWithOptimisticLock{})
	canary.Status = status
	if err := r.Client.Status().Patch(ctx, canary, patch); err != nil {
		return fmt.Errorf("record the decision in the status of Canary %s/%s: %w", canary.Namespace, canary.Name, err)
	}
	r.fresh.wrote(canary)
	return nil
}

// reportProblem marks the Canary not Ready with a reason a person can act on, and an event.
func (r *CanaryReconciler) reportProblem(ctx context.Context, canary *fledgev1alpha1.Canary, reason, message string) error {
	return r.reportState(ctx, canary, corev1.EventTypeWarning, reason, message)
}

// reportState marks the Canary not Ready for reason, with an event of the given type when
// that changes the status.
func (r *CanaryReconciler) reportState(ctx context.Context, canary *fledgev1alpha1.Canary, eventType, reason, message string) error {
	message = fledgev1alpha1.Bound(message, fledgev1alpha1.MaxMessage)
	status := canary.Status.DeepCopy()
	status.ObservedGeneration = canary.Generation
	meta.SetStatusCondition(&status.Conditions, metav1.Condition{
		Type: fledgev1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: reason, Message: message,
		ObservedGeneration: canary.Generation, LastTransitionTime: metav1.NewTime(r.Clock.Now()),
	})
	status.Message = message
	if equality.Semantic.DeepEqual(canary.Status, *status) {
		return nil
	}
	r.Events.Eventf(canary, nil, eventType, reason, "Reconcile", "%s", fledgev1alpha1.Bound(message, fledgev1alpha1.MaxEventMessage))
	return r.writeStatus(ctx, canary, *status)
}

func (r *CanaryReconciler) emit(ctx context.Context, canary *fledgev1alpha1.Canary, decision rollout.Decision) bool {
	if len(decision.Events) == 0 {
		return true
	}
	created := r.transitions.sync(ctx, canary, decision.Status.Events, r.Clock.Now())
	logger := log.FromContext(ctx)
	for _, e := range decision.Events {
		logger.Info("transition", "reason", e.Reason, "message", e.Message, "phase", canary.Status.Phase, "weight", canary.Status.CanaryWeight)
	}
	return created
}

// describeRouteErrors names the first field to fix, and how many more there are: the
// message goes to a condition, whose size the API bounds.
func describeRouteErrors(errs field.ErrorList) string {
	msg := errs[0].Error()
	if len(errs) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(errs)-1)
	}
	return msg + "; Fledge writes no route until the spec is fixed"
}
