package controllers

import (
	"context"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"

	"fledge.dev/fledge/analysis"
	"fledge.dev/fledge/controllers/router"
	"fledge.dev/fledge/controllers/workload"
)

// EventSource names Fledge in the events it records.
const EventSource = "fledge"

// Setup wires the Canary reconciler and its adapters into mgr.
func Setup(ctx context.Context, mgr ctrl.Manager, checker analysis.Checker, clk clock.PassiveClock) error {
	clients := router.Clients{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: mgr.GetScheme()}
	r := &CanaryReconciler{
		Client:    mgr.GetClient(),
		Scheme:    mgr.GetScheme(),
		Clock:     clk,
		Events:    mgr.GetEventRecorder(EventSource),
		Checker:   checker,
		Router:    &router.Istio{Clients: clients},
		Services:  &router.Services{Clients: clients},
		Workloads: &workload.Deployments{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: mgr.GetScheme()},
		Configs:   &workload.ConfigHashes{Cache: mgr.GetClient(), APIReader: mgr.GetAPIReader()},
	}
	return r.SetupWithManager(ctx, mgr)
}
