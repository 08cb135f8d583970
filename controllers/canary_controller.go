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
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/alerts"
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

	// fresh tells whether the cache already holds the status this controller last wrote.
	fresh freshness
	// checks runs the checks of rollouts, apart from the reconcile workers.
	checks *checkRunner
}

// +kubebuilder:rbac:groups=fledge.dev,resources=canaries,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=fledge.dev,resources=canaries/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=fledge.dev,resources=canaries/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups="",resources=configmaps;secrets,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=networking.istio.io,resources=destinationrules,verbs=get;list;watch;create;update;patch
// The fault-injection gate deletes the VirtualService of its dependency when its iterations end.
// +kubebuilder:rbac:groups=networking.istio.io,resources=virtualservices,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=fledge.dev,resources=metrictemplates;alertproviders,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile reads, decides, acts, and records the decision.
func (r *CanaryReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	canary := &fledgev1alpha1.Canary{}
	if err := r.Client.Get(ctx, req.NamespacedName, canary); err != nil {
		if apierrors.IsNotFound(err) {
			forgetMetrics(req.Namespace, req.Name)
			r.checks.drop(req.NamespacedName)
		}
		return reconcile.Result{}, ctrl.IgnoreNotFound(err)
	}
	if !r.fresh.seen(canary) {
		// The cache lags behind our last status write; deciding on old status could undo it.
		return reconcile.Result{RequeueAfter: 50 * time.Millisecond}, nil
	}
	if !canary.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, r.finalize(ctx, canary)
	}
	if !controllerutil.ContainsFinalizer(canary, Finalizer) {
		patch := ctrl.MergeFrom(canary.DeepCopy())
		controllerutil.AddFinalizer(canary, Finalizer)
		return reconcile.Result{}, r.Client.Patch(ctx, canary, patch)
	}
	// What Istio would refuse and admission could not tell: no route is written, no rollout
	// starts, until the spec is fixed (the spec's change wakes the reconciler).
	if errs := canary.Spec.RouteErrors(); len(errs) > 0 {
		return reconcile.Result{}, r.reportProblem(ctx, canary, fledgev1alpha1.ReasonInvalidRoutes, describeRouteErrors(errs))
	}

	versions := r.versionsOf(canary)
	set, err := versions.read(ctx, canary)
	if err != nil {
		return reconcile.Result{}, err
	}
	obs := r.observe(canary, versions, set)
	decision := r.decide(canary, versions, &obs)
	queueNotifications(canary, &decision.Status, decision.Events, obs.Now, r.DefaultAlertProvider)

	// Act first and record after: the status says what is true, so `kubectl wait` can trust
	// it. When acting fails, the decision is not recorded and is made again on the retry.
	if err := r.act(ctx, canary, versions, set, decision); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
			// The cache was behind our own writes; look again once it has caught up.
			return reconcile.Result{RequeueAfter: 100 * time.Millisecond}, nil
		}
		return reconcile.Result{}, errors.Join(err, r.reportProblem(ctx, canary, fledgev1alpha1.ReasonApplyFailed, err.Error()))
	}
	if err := r.writeStatus(ctx, canary, decision.Status); err != nil {
		return reconcile.Result{}, err
	}
	r.tell(ctx, canary, &obs, decision)
	return reconcile.Result{RequeueAfter: decision.RequeueAfter}, nil
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
// and the probe of the metrics providers a starting rollout asked for.
func (r *CanaryReconciler) tell(ctx context.Context, canary *fledgev1alpha1.Canary, obs *rollout.Observation, decision rollout.Decision) {
	// obs.Status is the status before the write (Decide works on a deep copy of it).
	observeMetrics(canary, &obs.Status, &decision.Status, obs)
	r.emit(ctx, canary, decision.Events)
	if r.Alerts != nil && alerts.Pending(canary, r.DefaultAlertProvider) {
		r.Alerts.Enqueue(ctrl.ObjectKeyFromObject(canary))
	}
	if decision.Preflight {
		r.checks.preflight(ctx, canary)
	}
}

// writeStatus patches the status when the decision changed it, and only then.
func (r *CanaryReconciler) writeStatus(ctx context.Context, canary *fledgev1alpha1.Canary, status fledgev1alpha1.CanaryStatus) error {
	if equality.Semantic.DeepEqual(canary.Status, status) {
		return nil
	}
	patch := ctrl.MergeFrom(canary.DeepCopy())
	canary.Status = status
	if err := r.Client.Status().Patch(ctx, canary, patch); err != nil {
		return fmt.Errorf("record the decision in the status of Canary %s/%s: %w", canary.Namespace, canary.Name, err)
	}
	r.fresh.wrote(canary)
	return nil
}

// reportProblem marks the Canary not Ready with a reason a person can act on, and an event.
func (r *CanaryReconciler) reportProblem(ctx context.Context, canary *fledgev1alpha1.Canary, reason, message string) error {
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
	r.Events.Eventf(canary, nil, corev1.EventTypeWarning, reason, "Reconcile", "%s", fledgev1alpha1.Bound(message, fledgev1alpha1.MaxEventMessage))
	return r.writeStatus(ctx, canary, *status)
}

func (r *CanaryReconciler) emit(ctx context.Context, canary *fledgev1alpha1.Canary, evs []rollout.Event) {
	logger := log.FromContext(ctx)
	for _, e := range evs {
		kind := corev1.EventTypeNormal
		if e.Warning {
			kind = corev1.EventTypeWarning
		}
		r.Events.Eventf(canary, nil, kind, e.Reason, "Rollout", "%s", e.Message)
		logger.Info("transition", "reason", e.Reason, "message", e.Message, "phase", canary.Status.Phase, "weight", canary.Status.CanaryWeight)
	}
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
