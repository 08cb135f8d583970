package controllers

import (
	"cmp"
	"context"
	"errors"
	"os"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"

	"fledge.dev/fledge/analysis"
	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/alerts"
	"fledge.dev/fledge/controllers/fence"
	"fledge.dev/fledge/controllers/router"
	"fledge.dev/fledge/controllers/workload"
	"fledge.dev/fledge/notifiers"
)

// EventSource names Fledge in the events it records.
const EventSource = "fledge"

// Options configure the controllers.
type Options struct {
	// Checker judges the steps of rollouts.
	Checker analysis.Checker
	// Clock tells the time (a fake one in tests).
	Clock clock.PassiveClock
	// MaxConcurrentReconciles is how many Canaries are reconciled at once.
	MaxConcurrentReconciles int
	// CheckWorkers is how many Canaries' checks run at once, apart from the reconciles
	// (DefaultCheckWorkers when zero).
	CheckWorkers int
	// MaxConcurrentRollouts caps the rollouts that run at once across the cluster, and
	// MaxConcurrentRolloutsPerNamespace in each namespace (0: no cap). A new revision past a
	// cap waits Queued, and the oldest queued start first as rollouts end.
	MaxConcurrentRollouts, MaxConcurrentRolloutsPerNamespace int
	// ClusterName names the cluster in notifications.
	ClusterName string
	// DefaultAlertProvider (namespace/name) is told about Canaries that name no alert.
	DefaultAlertProvider string
	// SlackAPIURL overrides Slack's Web API address (tests).
	SlackAPIURL string
	// ClusterDomain is the DNS domain of the cluster's Services (DefaultClusterDomain when
	// empty): a Canary's mesh hosts must be its own Service's names in it.
	ClusterDomain string
	// NotificationRetry bounds the retries of one notification.
	NotificationRetry notifiers.RetryPolicy
	// Fence, when set, holds back the notifications once this process may no longer lead
	// (see package fence; the manager's API writes are fenced in its transport); nil without
	// leader election.
	Fence fence.Fence
	// Shards, when set, shares the Canaries among the replicas (package shard): this one acts
	// only for those of the shards it holds, and no leader is elected. The caps on
	// simultaneous rollouts need one manager that counts them all, so they are refused with it.
	Shards Shards
}

// instanceName names this manager process in the Events it records (its pod's name).
func instanceName() string {
	if host, err := os.Hostname(); err == nil && host != "" {
		return fledgev1alpha1.Bound(host, 128)
	}
	return "fledge-manager"
}

// DefaultCheckWorkers is how many Canaries' checks run at once unless told otherwise: the
// checks mostly wait on Prometheus.
const DefaultCheckWorkers = 32

// Setup wires the Canary reconciler, its adapters and the alert dispatcher into mgr.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	writer := mgr.GetClient()
	clients := router.Clients{Client: writer, APIReader: mgr.GetAPIReader(), Scheme: mgr.GetScheme()}
	recorder := mgr.GetEventRecorder(EventSource)
	dispatcher := &alerts.Dispatcher{
		Client: writer, APIReader: mgr.GetAPIReader(), Events: recorder, Fence: opts.Fence,
		ClusterName: opts.ClusterName, DefaultProvider: opts.DefaultAlertProvider,
		SlackAPIURL: opts.SlackAPIURL, Retry: opts.NotificationRetry, Clock: opts.Clock,
	}
	if opts.Shards != nil {
		if opts.MaxConcurrentRollouts > 0 || opts.MaxConcurrentRolloutsPerNamespace > 0 {
			return errors.New("the caps on simultaneous rollouts need one manager to count every rollout: they cannot be used with shards yet; set no cap, or run one replica without shards")
		}
		dispatcher.Owner, dispatcher.Fence = opts.Shards, opts.Shards
	}
	dispatcher.NewQueue()
	if err := mgr.Add(dispatcher); err != nil {
		return err
	}
	r := &CanaryReconciler{
		Client:               writer,
		Scheme:               mgr.GetScheme(),
		Clock:                opts.Clock,
		Events:               recorder,
		Router:               &router.Istio{Clients: clients, ClusterDomain: opts.ClusterDomain},
		Services:             &router.Services{Clients: clients},
		Workloads:            &workload.Deployments{Client: writer, APIReader: mgr.GetAPIReader(), Scheme: mgr.GetScheme()},
		Configs:              &workload.ConfigHashes{Cache: mgr.GetClient(), APIReader: mgr.GetAPIReader()},
		Alerts:               dispatcher,
		DefaultAlertProvider: opts.DefaultAlertProvider,
		ClusterDomain:        cmp.Or(opts.ClusterDomain, fledgev1alpha1.DefaultClusterDomain),
		transitions:          &transitionEvents{client: writer, reader: mgr.GetAPIReader(), controller: EventSource, instance: instanceName()},
		checks:               newCheckRunner(opts.Checker, recorder, cmp.Or(opts.CheckWorkers, DefaultCheckWorkers), opts.Clock),
		slots:                newRolloutSlots(opts.MaxConcurrentRollouts, opts.MaxConcurrentRolloutsPerNamespace, writer),
	}
	if opts.Shards != nil {
		r.useShards(ctx, opts.Shards)
	}
	if err := mgr.Add(r.checks); err != nil {
		return err
	}
	return r.SetupWithManager(ctx, mgr, opts.MaxConcurrentReconciles)
}
