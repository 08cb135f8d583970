package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// run starts the stack and the manager, initialises the apps, rolls them all out at once, and
// prints the report. It stops what it started before it returns, also when ctx is cancelled.
func run(ctx context.Context, opts options) (err error) {
	outDir, err := prepareOutDir(opts.outDir)
	if err != nil {
		return err
	}
	fmt.Printf("bench: N=%d apps in %d namespace(s), interval %s, steps %v, %d fake nodes; logs (manager, stack) go to %s\n",
		opts.apps, opts.namespaces, opts.interval, opts.stepWeights, opts.nodes, outDir)

	// The bench's own cache logs through controller-runtime (rarely: watch errors).
	ctrllog.SetLogger(zap.New())
	started := time.Now()
	stack, err := startStack(ctx, opts.nodes)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, keepStackLogs(stack, outDir), stopStack(stack)) }()
	fmt.Printf("bench: local stack up in %s (logs in %s until it stops)\n", since(started), stack.Dir)

	// The stack's admin config keeps client-go's low default rate; the bench creates thousands
	// of objects and must not be the bottleneck.
	cfg := rest.CopyConfig(stack.Config)
	cfg.QPS, cfg.Burst = 500, 1000
	k8s, err := client.New(cfg, client.Options{Scheme: stack.Scheme})
	if err != nil {
		return fmt.Errorf("create the bench's client: %w", err)
	}

	// The watch ends before the stack stops (defers run last-in, first-out), so that it does
	// not retry against a stopped API server.
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	tracker := newTracker(opts.interval, len(opts.stepWeights))
	if err := tracker.watch(watchCtx, cfg, stack.Scheme); err != nil {
		return err
	}

	keys := appKeys(opts.apps, opts.namespaces)
	if opts.metrics {
		checks, startErr := startCheckStack(ctx, keys)
		if startErr != nil {
			return startErr
		}
		defer func() { err = errors.Join(err, checks.stop()) }()
		opts.prometheusURL = checks.prom.URL
		fmt.Printf("bench: Prometheus on %s scrapes simulated traffic of %d apps every %s\n", checks.prom.URL, len(keys), scrapeInterval)
	}

	// The manager runs with the rights config/default gives it, as in a cluster.
	kubeconfig, err := stack.ManagerKubeconfig(ctx)
	if err != nil {
		return err
	}
	mgrs, err := startFleet(opts, kubeconfig, outDir)
	defer func() { err = errors.Join(err, mgrs.stop(30*time.Second)) }()
	if err != nil {
		return err
	}
	if err := mgrs.waitServing(ctx, time.Minute); err != nil {
		return err
	}

	res := &results{opts: opts, managerLogs: mgrs.logs(), fleet: mgrs}
	tracker.expect(keys)

	createStart := time.Now()
	if err := createApps(ctx, k8s, keys, opts); err != nil {
		return err
	}
	res.createTook = since(createStart)
	fmt.Printf("bench: created %d Deployments and Canaries in %s; waiting until all are Initialized\n", len(keys), res.createTook)
	if res.initTook, err = tracker.waitAll(ctx, createStart, opts.initTimeout, mgrs.running, initialized); err != nil {
		return fmt.Errorf("initialise the Canaries: %w", err)
	}
	fmt.Printf("bench: all %d Canaries Initialized %s after the first create\n", len(keys), res.initTook)

	res.rssAfterInit = mgrs.sampleNow().rssKB
	if res.metricsBefore, err = mgrs.scrape(ctx); err != nil {
		return err
	}
	res.triggeredAt = time.Now()
	tracker.arm(res.triggeredAt)
	if err := triggerRollouts(ctx, k8s, keys, opts.createWorkers); err != nil {
		return err
	}
	fmt.Printf("bench: changed the pod template of %d targets in %s; waiting for the rollouts\n", len(keys), since(res.triggeredAt))
	if opts.killAfter > 0 {
		killCtx, stopKill := context.WithCancel(ctx)
		defer stopKill()
		go mgrs.killAfter(killCtx, res.triggeredAt, opts.killAfter)
	}
	res.rolloutsTook, err = tracker.waitAll(ctx, res.triggeredAt, opts.timeout, mgrs.running, finished)
	var waitErr error
	if err != nil {
		waitErr = fmt.Errorf("roll out the Canaries: %w", err)
	}
	if ctx.Err() != nil {
		return ctx.Err() // interrupted: no report, just clean up
	}

	if res.metricsAfter, err = mgrs.scrape(ctx); err != nil {
		return errors.Join(waitErr, err)
	}
	res.memory = mgrs.sampleNow()
	res.peakRSSKB = mgrs.peakRSSKB()
	res.canaries = tracker.snapshot()
	res.log = scanManagerLog(mgrs.logs()...)
	res.print(os.Stdout)
	return errors.Join(waitErr, res.verdict())
}

func initialized(h *history) bool { return h.phase == fledgev1alpha1.PhaseInitialized }

// finished is the end of the rollout started by the bench: before it, no Canary was ever
// Succeeded or Failed.
func finished(h *history) bool {
	return h.phase == fledgev1alpha1.PhaseSucceeded || h.phase == fledgev1alpha1.PhaseFailed
}

func prepareOutDir(dir string) (string, error) {
	if dir == "" {
		d, err := os.MkdirTemp("", "fledge-bench-")
		if err != nil {
			return "", fmt.Errorf("create the output folder: %w", err)
		}
		return d, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create the output folder %s: %w", dir, err)
	}
	return dir, nil
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }
