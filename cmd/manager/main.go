// Command manager runs the Fledge controller.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"fledge.dev/fledge/analysis"
	"fledge.dev/fledge/apis"
	"fledge.dev/fledge/controllers"
	"fledge.dev/fledge/notifiers"
)

func main() {
	var (
		metricsAddr      string
		probeAddr        string
		leaderElect      bool
		leaderElectionNS string
		qps              float64
		burst            int
		prometheusAddr   string
		clusterName      string
		defaultAlert     string
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8080", "Address of the controller metrics endpoint; \"0\" turns it off.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz probes; \"0\" turns them off.")
	flag.BoolVar(&leaderElect, "leader-elect", true, "Elect a leader, so that only one replica acts at a time.")
	flag.StringVar(&leaderElectionNS, "leader-election-namespace", "", "Namespace of the leader-election Lease (default: the manager's own namespace).")
	flag.Float64Var(&qps, "kube-api-qps", 50, "Requests per second the manager may send to the API server, on average.")
	flag.IntVar(&burst, "kube-api-burst", 100, "Requests the manager may send to the API server in a burst.")
	flag.StringVar(&prometheusAddr, "prometheus-address", "http://prometheus.istio-system:9090", "Prometheus of the mesh, for the built-in checks (request-success-rate, request-duration).")
	flag.StringVar(&clusterName, "cluster-name", "", "Name of this cluster in notifications.")
	flag.StringVar(&defaultAlert, "default-alert-provider", "", "AlertProvider (namespace/name) told about every Canary that names none.")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))

	if err := run(metricsAddr, probeAddr, leaderElect, leaderElectionNS, float32(qps), burst, prometheusAddr, clusterName, defaultAlert); err != nil {
		fmt.Fprintln(os.Stderr, "fledge:", err)
		os.Exit(1)
	}
}

func run(metricsAddr, probeAddr string, leaderElect bool, leaderElectionNS string, qps float32, burst int, prometheusAddr, clusterName, defaultAlertProvider string) error {
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("find the cluster: %w", err)
	}
	cfg.QPS, cfg.Burst = qps, burst
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  apis.NewScheme(),
		Cache:                   controllers.CacheOptions(),
		Metrics:                 metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress:  probeAddr,
		LeaderElection:          leaderElect,
		LeaderElectionID:        "fledge.dev",
		LeaderElectionNamespace: leaderElectionNS,
	})
	if err != nil {
		return fmt.Errorf("create the manager: %w", err)
	}
	ctx := ctrl.SetupSignalHandler()
	checker := &analysis.Analyzer{
		Reader: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Clock: clock.RealClock{},
		DefaultAddress: prometheusAddr,
	}
	if err := controllers.Setup(ctx, mgr, controllers.Options{
		Checker: checker, Clock: clock.RealClock{},
		ClusterName: clusterName, DefaultAlertProvider: defaultAlertProvider,
		NotificationRetry: notifiers.RetryPolicy{Initial: time.Second, Max: time.Minute, GiveUpAfter: 10 * time.Minute},
	}); err != nil {
		return fmt.Errorf("set up the controllers: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	return mgr.Start(ctx)
}
