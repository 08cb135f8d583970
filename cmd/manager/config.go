package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers"
	"fledge.dev/fledge/controllers/shard"
)

// Config is the manager's configuration. Every field is a flag; --config names a YAML file
// with the same keys, and flags given on the command line win over the file.
type Config struct {
	MetricsBindAddress          string          `json:"metricsBindAddress"`
	SecureMetrics               bool            `json:"secureMetrics"`
	MetricsCertDir              string          `json:"metricsCertDir"`
	HealthProbeBindAddress      string          `json:"healthProbeBindAddress"`
	LeaderElect                 bool            `json:"leaderElect"`
	LeaderElectionNamespace     string          `json:"leaderElectionNamespace"`
	LeaderElectionLeaseDuration metav1.Duration `json:"leaderElectionLeaseDuration"`
	LeaderElectionRenewDeadline metav1.Duration `json:"leaderElectionRenewDeadline"`
	LeaderElectionRetryPeriod   metav1.Duration `json:"leaderElectionRetryPeriod"`
	Shards                      int             `json:"shards"`
	KubeAPIQPS                  float64         `json:"kubeAPIQPS"`
	KubeAPIBurst                int             `json:"kubeAPIBurst"`
	MaxConcurrentReconciles     int             `json:"maxConcurrentReconciles"`
	CheckWorkers                int             `json:"checkWorkers"`
	MaxConcurrentRollouts       int             `json:"maxConcurrentRollouts"`
	MaxConcurrentRolloutsPerNS  int             `json:"maxConcurrentRolloutsPerNamespace"`
	PrometheusAddress           string          `json:"prometheusAddress"`
	ClusterName                 string          `json:"clusterName"`
	DefaultAlertProvider        string          `json:"defaultAlertProvider"`
	NotificationTimeout         metav1.Duration `json:"notificationTimeout"`
	SlackAPIURL                 string          `json:"slackAPIURL"`
	ClusterDomain               string          `json:"clusterDomain"`
	WatchNamespaces             []string        `json:"watchNamespaces"`
}

func defaults() Config {
	return Config{
		MetricsBindAddress:     ":8443",
		SecureMetrics:          true,
		HealthProbeBindAddress: ":8081",
		LeaderElect:            true,
		// controller-runtime's defaults.
		LeaderElectionLeaseDuration: metav1.Duration{Duration: 15 * time.Second},
		LeaderElectionRenewDeadline: metav1.Duration{Duration: 10 * time.Second},
		LeaderElectionRetryPeriod:   metav1.Duration{Duration: 2 * time.Second},
		// A fleet-wide change steps every Canary at once: at 50 qps, 1,000 rollouts queued
		// behind the manager's own limiter. The API server's priority and fairness protects
		// the server; the client limit only keeps a runaway manager bounded (make bench ran
		// 1,000 and 2,000 rollouts with these).
		KubeAPIQPS:   500,
		KubeAPIBurst: 1000,
		// A reconcile mostly waits on the API server: with 1000 rollouts at once, 16 workers
		// kept the p99 of step lateness at 19 s where 4 let it reach 70 s (make bench).
		MaxConcurrentReconciles: 16,
		CheckWorkers:            controllers.DefaultCheckWorkers,
		PrometheusAddress:       "http://prometheus.istio-system:9090",
		NotificationTimeout:     metav1.Duration{Duration: 10 * time.Minute},
		ClusterDomain:           fledgev1alpha1.DefaultClusterDomain,
	}
}

// bind registers the flags of c on fs.
func (c *Config) bind(fs *flag.FlagSet) {
	fs.StringVar(&c.MetricsBindAddress, "metrics-bind-address", c.MetricsBindAddress, "Address of the controller metrics endpoint; \"0\" turns it off.")
	fs.BoolVar(&c.SecureMetrics, "metrics-secure", c.SecureMetrics, "Serve metrics over HTTPS, only to clients the API server authenticates and authorizes (get on /metrics).")
	fs.StringVar(&c.MetricsCertDir, "metrics-cert-dir", c.MetricsCertDir, "Folder of the metrics endpoint's serving certificate, tls.crt and tls.key (a kubernetes.io/tls Secret mounted, as cert-manager writes it; reread when it changes). Without it the manager signs a certificate of its own at start, which no scraper can verify.")
	fs.StringVar(&c.HealthProbeBindAddress, "health-probe-bind-address", c.HealthProbeBindAddress, "Address of the /healthz and /readyz probes; \"0\" turns them off.")
	fs.BoolVar(&c.LeaderElect, "leader-elect", c.LeaderElect, "Elect a leader, so that only one replica acts at a time.")
	fs.StringVar(&c.LeaderElectionNamespace, "leader-election-namespace", c.LeaderElectionNamespace, "Namespace of the leader-election Lease (default: the manager's own namespace).")
	fs.DurationVar(&c.LeaderElectionLeaseDuration.Duration, "leader-election-lease-duration", c.LeaderElectionLeaseDuration.Duration, "How long a replica waits for a silent leader's lease before it takes over.")
	fs.DurationVar(&c.LeaderElectionRenewDeadline.Duration, "leader-election-renew-deadline", c.LeaderElectionRenewDeadline.Duration, "How long the leader keeps acting without renewing its lease; past it, it stops writing and steps down.")
	fs.DurationVar(&c.LeaderElectionRetryPeriod.Duration, "leader-election-retry-period", c.LeaderElectionRetryPeriod.Duration, "How often the replicas try to acquire or renew the lease.")
	fs.IntVar(&c.Shards, "shards", c.Shards, fmt.Sprintf("Share the Canaries among every replica in this many shards, each a Lease in the leader-election namespace held by one replica at a time, instead of electing one leader (0: one leader drives all; 1 to %d, the same on every replica, a few times the replicas there will be). Uses the leader-election timings.", shard.MaxShards))
	fs.Float64Var(&c.KubeAPIQPS, "kube-api-qps", c.KubeAPIQPS, "Requests per second the manager may send to the API server, on average.")
	fs.IntVar(&c.KubeAPIBurst, "kube-api-burst", c.KubeAPIBurst, "Requests the manager may send to the API server in a burst.")
	fs.IntVar(&c.MaxConcurrentReconciles, "max-concurrent-reconciles", c.MaxConcurrentReconciles, "Canaries reconciled at the same time.")
	fs.IntVar(&c.CheckWorkers, "check-workers", c.CheckWorkers, "Canaries whose checks (metric queries) run at the same time, apart from the reconciles; each check has its step's interval to finish.")
	fs.IntVar(&c.MaxConcurrentRollouts, "max-concurrent-rollouts", c.MaxConcurrentRollouts, "Rollouts that may run at once across the cluster (0: no cap); a new revision past the cap waits Queued, and the oldest queued start first as rollouts end.")
	fs.IntVar(&c.MaxConcurrentRolloutsPerNS, "max-concurrent-rollouts-per-namespace", c.MaxConcurrentRolloutsPerNS, "Rollouts that may run at once in each namespace (0: no cap); past it a new revision waits Queued.")
	fs.StringVar(&c.PrometheusAddress, "prometheus-address", c.PrometheusAddress, "Prometheus of the mesh, for the built-in checks (request-success-rate, request-duration).")
	fs.StringVar(&c.ClusterName, "cluster-name", c.ClusterName, "Name of this cluster in notifications.")
	fs.StringVar(&c.DefaultAlertProvider, "default-alert-provider", c.DefaultAlertProvider, "AlertProvider (namespace/name) told about every Canary that names none.")
	fs.StringVar(&c.SlackAPIURL, "slack-api-url", c.SlackAPIURL, "Slack's Web API address, for a proxy that relays to Slack (default: Slack's own, https://slack.com/api/).")
	fs.StringVar(&c.ClusterDomain, "cluster-domain", c.ClusterDomain, "DNS domain of the cluster's Services: a Canary routed for the mesh may name only its own Service, as name, name.namespace, name.namespace.svc or name.namespace.svc.<domain>; a fault gate's dependency name.namespace is name.namespace.svc.<domain>.")
	fs.Var((*commaList)(&c.WatchNamespaces), "watch-namespaces", "Namespaces whose Canaries this manager runs, comma-separated (default: every namespace); with Roles in those namespaces only, as the chart's watchNamespaces installs (the namespace of --default-alert-provider is watched too).")
	fs.DurationVar(&c.NotificationTimeout.Duration, "notification-timeout", c.NotificationTimeout.Duration, "How long a notification is retried before it is given up.")
}

// validate refuses settings that cannot mean anything, saying what to write instead.
func (c Config) validate() error {
	if c.MaxConcurrentRollouts < 0 || c.MaxConcurrentRolloutsPerNS < 0 {
		return fmt.Errorf("--max-concurrent-rollouts (%d) and --max-concurrent-rollouts-per-namespace (%d) must be 0 (no cap) or more",
			c.MaxConcurrentRollouts, c.MaxConcurrentRolloutsPerNS)
	}
	if c.Shards < 0 || c.Shards > shard.MaxShards {
		return fmt.Errorf("--shards must be 0 (one leader) or from 1 to %d, not %d", shard.MaxShards, c.Shards)
	}
	if c.Shards > 0 && (c.MaxConcurrentRollouts > 0 || c.MaxConcurrentRolloutsPerNS > 0) {
		return errors.New("--shards cannot be used with --max-concurrent-rollouts or --max-concurrent-rollouts-per-namespace yet: each replica would count only its own rollouts; drop the caps, or run one replica with --shards=0")
	}
	return nil
}

// leaderElection checks the lease timings: the leader must give up before another may take
// over, and try more than once before it gives up.
func (c Config) leaderElection() (leaseTimings, error) {
	t := leaseTimings{lease: c.LeaderElectionLeaseDuration.Duration, renew: c.LeaderElectionRenewDeadline.Duration, retry: c.LeaderElectionRetryPeriod.Duration}
	if t.retry <= 0 || t.retry >= t.renew || t.renew >= t.lease {
		return t, fmt.Errorf("leader election: want retry period (%s) < renew deadline (%s) < lease duration (%s)", t.retry, t.renew, t.lease)
	}
	return t, nil
}

type leaseTimings struct{ lease, renew, retry time.Duration }

// load reads the YAML file at path into c.
func (c *Config) load(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read the configuration: %w", err)
	}
	if err := yaml.UnmarshalStrict(data, c); err != nil {
		return fmt.Errorf("read the configuration %s: %w", path, err)
	}
	return nil
}

// parseConfig reads the defaults, then the --config file, then the flags given on the command
// line, in that order of precedence.
func parseConfig(fs *flag.FlagSet, args []string) (Config, error) {
	cfg := defaults()
	var path string
	fs.StringVar(&path, "config", "", "YAML file with the settings below (keys in camelCase, e.g. prometheusAddress); flags win over it.")
	cfg.bind(fs)
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if path == "" {
		return cfg, nil
	}
	fromFile := defaults()
	if err := fromFile.load(path); err != nil {
		return cfg, err
	}
	// Flags set on the command line win: replay them on top of the file.
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	replay := flag.NewFlagSet("replay", flag.ContinueOnError)
	fromFile.bind(replay)
	for name := range given {
		if name == "config" || replay.Lookup(name) == nil {
			continue
		}
		if err := replay.Set(name, fs.Lookup(name).Value.String()); err != nil {
			return cfg, err
		}
	}
	return fromFile, nil
}

// commaList is a flag of comma-separated names.
type commaList []string

func (l *commaList) String() string { return strings.Join(*l, ",") }

func (l *commaList) Set(v string) error {
	*l = nil
	for _, name := range strings.Split(v, ",") {
		if name = strings.TrimSpace(name); name != "" {
			*l = append(*l, name)
		}
	}
	return nil
}

// watchedNamespaces are the namespaces the manager's cache holds: none listed is every one;
// else those listed and the default alert provider's, which serves them all.
func (c Config) watchedNamespaces() []string {
	if len(c.WatchNamespaces) == 0 {
		return nil
	}
	out := slices.Clone(c.WatchNamespaces)
	if ns, _, ok := strings.Cut(c.DefaultAlertProvider, "/"); ok && !slices.Contains(out, ns) {
		out = append(out, ns)
	}
	return out
}
