// Command bench runs many canary rollouts at once on a local control plane and reports how
// late the traffic steps ran, how much memory the Fledge manager used, and how many API
// requests it sent per step. Everything runs on loopback: the stack of test/cluster and the
// manager binary as a subprocess.
//
//	make bench BENCH_FLAGS="-n 200 -interval 10s"
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the bench's flags.
type options struct {
	managerPath   string
	apps          int
	namespaces    int
	interval      time.Duration
	stepWeights   []int32
	nodes         int
	qps           float64
	burst         int
	workers       int
	initTimeout   time.Duration
	timeout       time.Duration
	createWorkers int
	outDir        string
	// metrics gives every Canary the built-in success-rate check on a real Prometheus.
	metrics bool
	// prometheusURL is where the checks query (set by run when metrics is on).
	prometheusURL string
	// replicas of the manager share the Canaries in shards (0 with one replica).
	replicas, shards int
	// killAfter, when set, kills one replica that long after the change of the targets.
	killAfter time.Duration
}

func parseFlags() (options, error) {
	var o options
	var weights string
	flag.StringVar(&o.managerPath, "manager", "bin/fledge-manager", "Path of the manager binary (make bench builds ./cmd/manager there).")
	flag.IntVar(&o.apps, "n", 100, "Number of Deployments with a Canary each, rolled out at once.")
	flag.IntVar(&o.namespaces, "namespaces", 1, "Number of namespaces the apps are spread over.")
	flag.DurationVar(&o.interval, "interval", 10*time.Second, "spec.analysis.interval of every Canary (at least 1s).")
	flag.StringVar(&weights, "step-weights", "20,40,60,80", "spec.analysis.stepWeights of every Canary, comma-separated.")
	flag.IntVar(&o.nodes, "nodes", 0, "Fake nodes of 1000 pods each (0: room for about three pods per app).")
	flag.Float64Var(&o.qps, "kube-api-qps", 500, "--kube-api-qps of the manager.")
	flag.IntVar(&o.burst, "kube-api-burst", 1000, "--kube-api-burst of the manager.")
	flag.IntVar(&o.workers, "max-concurrent-reconciles", 0, "--max-concurrent-reconciles of the manager (0: the manager's default).")
	flag.DurationVar(&o.initTimeout, "init-timeout", 20*time.Minute, "How long the Canaries may take to become Initialized.")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Minute, "How long the rollouts may take, from the change of the targets until all end.")
	flag.IntVar(&o.createWorkers, "create-workers", 16, "Concurrent requests the bench sends when it creates or changes objects.")
	flag.StringVar(&o.outDir, "out", "", "Folder for the logs of the manager and of the stack (default: a new temporary folder, kept).")
	flag.BoolVar(&o.metrics, "metrics", false, "Give every Canary the built-in success-rate check, on a real Prometheus scraping simulated traffic of every app.")
	flag.IntVar(&o.replicas, "replicas", 1, "Manager replicas; more than one share the Canaries in shards (--shards).")
	flag.IntVar(&o.shards, "shards", 0, "--shards of every replica (0: one replica elects no leader and needs none; with -replicas > 1, 4 per replica).")
	flag.DurationVar(&o.killAfter, "kill-one-after", 0, "Kill one replica (SIGKILL, not restarted) that long after the change of the targets (0: none); needs -replicas > 1.")
	flag.Parse()

	if o.apps < 1 || o.namespaces < 1 || o.namespaces > o.apps {
		return o, fmt.Errorf("need -n >= 1 and 1 <= -namespaces <= -n (got -n %d, -namespaces %d)", o.apps, o.namespaces)
	}
	if o.interval < time.Second {
		return o, fmt.Errorf("-interval must be at least 1s, as the Canary API requires (got %s)", o.interval)
	}
	for _, w := range strings.Split(weights, ",") {
		v, err := strconv.ParseInt(strings.TrimSpace(w), 10, 32)
		if err != nil || v < 1 || v > 100 {
			return o, fmt.Errorf("-step-weights: %q is not a weight within 1..100", w)
		}
		o.stepWeights = append(o.stepWeights, int32(v))
	}
	if o.replicas < 1 || o.replicas > 1 && o.shards == 1 {
		return o, fmt.Errorf("-replicas must be 1 or more, and more than one replica needs -shards of 2 or more (got -replicas %d, -shards %d)", o.replicas, o.shards)
	}
	if o.replicas > 1 && o.shards == 0 {
		o.shards = 4 * o.replicas
	}
	if o.killAfter > 0 && o.replicas < 2 {
		return o, fmt.Errorf("-kill-one-after needs -replicas of 2 or more: the one replica would take the rollouts with it")
	}
	if o.nodes == 0 {
		// A primary, a canary and a surge pod per app at most, on nodes of 1000 pods each, with
		// some room.
		o.nodes = max(3, (3*o.apps+899)/900)
	}
	return o, nil
}

func main() {
	opts, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	// Ctrl-C cancels the context; run stops the manager and the stack before returning.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, opts)
	stop()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			err = fmt.Errorf("interrupted: %w", err)
		}
		fmt.Fprintln(os.Stderr, "bench: FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("bench: PASS")
}
