// Command manager runs the Fledge controller.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"fledge.dev/fledge/analysis"
	"fledge.dev/fledge/apis"
	"fledge.dev/fledge/controllers"
	"fledge.dev/fledge/controllers/fence"
	"fledge.dev/fledge/controllers/shard"
	"fledge.dev/fledge/notifiers"
)

func main() {
	fs := flag.NewFlagSet("fledge-manager", flag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s [flags]\n\nFledge turns each change of a Deployment into a canary rollout on Istio.\n\nFlags:\n", os.Args[0])
		fs.PrintDefaults()
	}
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs)
	ctrlconfig.RegisterFlags(fs) // --kubeconfig
	cfg, err := parseConfig(fs, os.Args[1:])
	if err == nil {
		err = cfg.validate()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fledge:", err)
		os.Exit(2)
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "fledge:", err)
		os.Exit(1)
	}
}

func run(cfg Config) error {
	restConfig, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("find the cluster: %w", err)
	}
	restConfig.QPS, restConfig.Burst = float32(cfg.KubeAPIQPS), cfg.KubeAPIBurst
	if faultHooks != nil {
		faultHooks(restConfig)
	}
	var lease *fence.Lease
	var shards *shard.Coordinator
	switch {
	case cfg.Shards > 0:
		timings, err := cfg.leaderElection()
		if err != nil {
			return err
		}
		// Each replica owns the Canaries of its shards; a write for another's is fenced.
		if shards, err = shardCoordinator(restConfig, cfg.LeaderElectionNamespace, timings, cfg.Shards); err != nil {
			return err
		}
		if !faultUnfenced {
			restConfig.Wrap(fence.WrapTransport(shards))
		}
	case cfg.LeaderElect:
		timings, err := cfg.leaderElection()
		if err != nil {
			return err
		}
		// The elector's own connection is made before the fence: it must renew or give up.
		if lease, err = leaderLease(restConfig, cfg.LeaderElectionNamespace, timings); err != nil {
			return err
		}
		if !faultUnfenced {
			restConfig.Wrap(fence.WrapTransport(lease))
		}
	}

	metrics := metricsserver.Options{BindAddress: cfg.MetricsBindAddress, SecureServing: cfg.SecureMetrics}
	if cfg.MetricsCertDir != "" {
		// controller-runtime watches the files, so a renewed certificate is served at once.
		metrics.CertDir, metrics.CertName, metrics.KeyName = cfg.MetricsCertDir, "tls.crt", "tls.key"
	}
	if cfg.SecureMetrics {
		// Only callers the API server authenticates, and authorizes to get /metrics.
		metrics.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	opts := ctrl.Options{
		Scheme:                 apis.NewScheme(),
		Cache:                  controllers.CacheOptions(cfg.watchedNamespaces()...),
		Metrics:                metrics,
		HealthProbeBindAddress: cfg.HealthProbeBindAddress,
		LeaderElection:         cfg.LeaderElect && shards == nil, // shards share the work instead
		LeaseDuration:          ptr.To(cfg.LeaderElectionLeaseDuration.Duration),
		RenewDeadline:          ptr.To(cfg.LeaderElectionRenewDeadline.Duration),
		RetryPeriod:            ptr.To(cfg.LeaderElectionRetryPeriod.Duration),
	}
	if lease != nil {
		opts.LeaderElectionResourceLockInterface = lease
	}
	mgr, err := ctrl.NewManager(restConfig, opts)
	if err != nil {
		return fmt.Errorf("create the manager: %w", err)
	}
	if shards != nil {
		if err := mgr.Add(shards); err != nil {
			return err
		}
	}
	ctx := ctrl.SetupSignalHandler()
	checker := &analysis.Analyzer{
		Reader: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Clock: clock.RealClock{},
		DefaultAddress: cfg.PrometheusAddress,
	}
	if err := controllers.Setup(ctx, mgr, controllers.Options{
		Checker: checker, Clock: clock.RealClock{}, Fence: fenceOf(lease), Shards: shardsOf(shards),
		MaxConcurrentReconciles: cfg.MaxConcurrentReconciles, CheckWorkers: cfg.CheckWorkers,
		MaxConcurrentRollouts: cfg.MaxConcurrentRollouts, MaxConcurrentRolloutsPerNamespace: cfg.MaxConcurrentRolloutsPerNS,
		ClusterName: cfg.ClusterName, DefaultAlertProvider: cfg.DefaultAlertProvider,
		SlackAPIURL: cfg.SlackAPIURL, ClusterDomain: cfg.ClusterDomain,
		NotificationRetry: notifiers.RetryPolicy{Initial: time.Second, Max: time.Minute, GiveUpAfter: cfg.NotificationTimeout.Duration},
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

// shardsOf is the coordinator as controllers.Shards, or none (a nil pointer in the interface
// would not read as none).
func shardsOf(c *shard.Coordinator) controllers.Shards {
	if c == nil {
		return nil
	}
	return c
}

// fenceOf is the lease as a fence, or none without leader election (a nil *fence.Lease in
// the interface would not read as none).
func fenceOf(lease *fence.Lease) fence.Fence {
	if lease == nil || faultUnfenced {
		return nil
	}
	return lease
}
