package main

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestConfigFileWithFlagsOnTop(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fledge.yaml")
	if err := os.WriteFile(path, []byte("prometheusAddress: http://prom:9090\nclusterName: eu-1\nnotificationTimeout: 5m\nleaderElect: false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := parseConfig(flag.NewFlagSet("t", flag.ContinueOnError), []string{"--config", path, "--cluster-name", "eu-2"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PrometheusAddress != "http://prom:9090" || cfg.NotificationTimeout.Duration != 5*time.Minute || cfg.LeaderElect {
		t.Errorf("the file was not read: %+v", cfg)
	}
	if cfg.ClusterName != "eu-2" {
		t.Errorf("a flag must win over the file: cluster %q", cfg.ClusterName)
	}
	if cfg.KubeAPIQPS != 500 {
		t.Errorf("what neither sets keeps its default: qps %v", cfg.KubeAPIQPS)
	}
}

func TestConfigFileWithAnUnknownKeyIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fledge.yaml")
	if err := os.WriteFile(path, []byte("prometheusAdress: http://typo:9090\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := parseConfig(flag.NewFlagSet("t", flag.ContinueOnError), []string{"--config", path}); err == nil {
		t.Fatal("a misspelt key must be an error, not silently ignored")
	}
}

// --help is the manager's reference: every setting has a flag, and every flag says what it does.
func TestEveryFlagIsDocumented(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	cfg := defaults()
	cfg.bind(fs)
	flags := 0
	fs.VisitAll(func(f *flag.Flag) {
		flags++
		if len(f.Usage) < 20 || !strings.HasSuffix(f.Usage, ".") && !strings.HasSuffix(f.Usage, ")") {
			t.Errorf("--%s has no usable help: %q", f.Name, f.Usage)
		}
	})
	if fields := reflect.TypeOf(Config{}).NumField(); flags != fields {
		t.Errorf("%d flags for the %d settings of Config: give each setting its flag", flags, fields)
	}
}

// A renew deadline at or past the lease duration would let two replicas lead at once.
func TestLeaderElectionTimingsMustNest(t *testing.T) {
	cfg, err := parseConfig(flag.NewFlagSet("t", flag.ContinueOnError), []string{"--leader-election-lease-duration=10s", "--leader-election-renew-deadline=10s"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.leaderElection(); err == nil {
		t.Error("a renew deadline equal to the lease duration was accepted")
	}
	if _, err := defaults().leaderElection(); err != nil {
		t.Errorf("the defaults: %v", err)
	}
}

// The namespaces a manager watches come from a flag or the file, and a flag wins as elsewhere.
func TestWatchNamespacesFromTheFileOrAFlag(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fledge.yaml")
	if err := os.WriteFile(path, []byte("watchNamespaces: [shop, payments]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := parseConfig(flag.NewFlagSet("t", flag.ContinueOnError), []string{"--config", path})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg.WatchNamespaces, []string{"shop", "payments"}) {
		t.Errorf("from the file: %q", cfg.WatchNamespaces)
	}
	cfg, err = parseConfig(flag.NewFlagSet("t", flag.ContinueOnError), []string{"--config", path, "--watch-namespaces", " cart, ,search"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg.WatchNamespaces, []string{"cart", "search"}) {
		t.Errorf("the flag over the file: %q", cfg.WatchNamespaces)
	}
}

// A cap on simultaneous rollouts below zero means nothing: it is refused, saying what to write.
func TestNegativeRolloutCapsAreRefused(t *testing.T) {
	cfg, err := parseConfig(flag.NewFlagSet("t", flag.ContinueOnError), []string{"--max-concurrent-rollouts-per-namespace=-1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.validate(); err == nil || !strings.Contains(err.Error(), "must be 0 (no cap) or more") {
		t.Errorf("a negative cap: %v", err)
	}
	if err := defaults().validate(); err != nil {
		t.Errorf("the defaults: %v", err)
	}
}

func TestShardCountsAreBoundedAndRefuseTheCaps(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // in the error; "" for none
	}{
		{[]string{"--shards=16"}, ""},
		{[]string{"--shards=-1"}, "--shards must be 0"},
		{[]string{"--shards=100000"}, "--shards must be 0"},
		{[]string{"--shards=8", "--max-concurrent-rollouts=5"}, "cannot be used with --max-concurrent-rollouts"},
		{[]string{"--shards=8", "--max-concurrent-rollouts-per-namespace=1"}, "cannot be used with --max-concurrent-rollouts"},
	} {
		cfg, err := parseConfig(flag.NewFlagSet("t", flag.ContinueOnError), tc.args)
		if err != nil {
			t.Fatal(err)
		}
		err = cfg.validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.args, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: want an error with %q, got %v", tc.args, tc.want, err)
		}
	}
}
