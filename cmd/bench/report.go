package main

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/types"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// results are what one bench run measured.
type results struct {
	opts        options
	managerLogs []string
	fleet       *fleet

	createTook   time.Duration
	initTook     time.Duration
	triggeredAt  time.Time
	rolloutsTook time.Duration

	rssAfterInit int64
	memory       memoryReading
	peakRSSKB    int64

	metricsBefore, metricsAfter metrics
	canaries                    observed
	log                         logSummary
}

// outcome counts how the rollouts ended.
type outcome struct {
	succeeded, failed, unfinished int
	firstFailure                  string
}

func (r *results) outcome() outcome {
	var o outcome
	for _, key := range slices.SortedFunc(maps.Keys(r.canaries.histories), compareKeys) {
		h := r.canaries.histories[key]
		switch h.phase {
		case fledgev1alpha1.PhaseSucceeded:
			o.succeeded++
		case fledgev1alpha1.PhaseFailed:
			o.failed++
			if o.firstFailure == "" {
				o.firstFailure = fmt.Sprintf("%s: %s", key, h.message)
			}
		default:
			o.unfinished++
		}
	}
	return o
}

// verdict fails the run when a rollout failed.
func (r *results) verdict() error {
	if o := r.outcome(); o.failed > 0 {
		return fmt.Errorf("%d of %d rollouts failed; the first: %s (manager logs: %s)", o.failed, len(r.canaries.histories), o.firstFailure, strings.Join(r.managerLogs, ", "))
	}
	return nil
}

func (r *results) print(out io.Writer) {
	fmt.Fprintln(out)
	fmt.Fprintln(out, "=== Fledge rollout bench ===")
	r.printRun(out)
	r.printLateness(out)
	r.printLatencies(out)
	r.printMemory(out)
	r.printRequests(out)
	r.printController(out)
	fmt.Fprintln(out)
}

func (r *results) printRun(out io.Writer) {
	o := r.outcome()
	w := table(out)
	fmt.Fprintf(w, "apps (Deployments with a Canary, 1 replica)\t%d in %d namespace(s)\n", r.opts.apps, r.opts.namespaces)
	fmt.Fprintf(w, "interval / step weights\t%s / %v\n", r.opts.interval, r.opts.stepWeights)
	fmt.Fprintf(w, "fake nodes / manager kube-api-qps, burst / workers\t%d / %g, %d / %.0f\n", r.opts.nodes, r.opts.qps, r.opts.burst,
		r.metricsAfter.sum("controller_runtime_max_concurrent_reconciles", where("controller", "canary")))
	if r.opts.replicas > 1 {
		fmt.Fprintf(w, "manager replicas / shards\t%d / %d\n", r.opts.replicas, r.opts.shards)
	}
	if r.fleet != nil && r.fleet.killedReplica() >= 0 {
		fmt.Fprintf(w, "  replica killed (SIGKILL, not restarted)\t%s after the change of the targets\n", fmtDur(r.fleet.killedAt.Sub(r.triggeredAt)))
	}
	fmt.Fprintf(w, "create every Deployment and Canary\t%s\n", fmtDur(r.createTook))
	fmt.Fprintf(w, "initialise (first create → all Initialized)\t%s\n", fmtDur(r.initTook))
	fmt.Fprintf(w, "rollouts (targets changed → all ended)\t%s\n", fmtDur(r.rolloutsTook))
	fmt.Fprintf(w, "  ideal (first step, then one per interval)\t≈ %s + canary readiness\n", time.Duration(len(r.opts.stepWeights))*r.opts.interval)
	fmt.Fprintf(w, "outcome\t%d succeeded, %d failed, %d unfinished\n", o.succeeded, o.failed, o.unfinished)
	w.Flush()
}

func (r *results) printLateness(out io.Writer) {
	fmt.Fprintln(out)
	fmt.Fprintln(out, "Step lateness: decision time − due time (due = previous lastCheckTime + interval)")
	w := table(out)
	fmt.Fprintln(w, "step\tcount\tp50\tp90\tp99\tmax\t")
	var all []time.Duration
	weights := r.opts.stepWeights
	for step := int32(2); step <= int32(len(weights))+1; step++ {
		var ds []time.Duration
		for _, s := range r.canaries.samples {
			if s.step == step {
				ds = append(ds, s.lateness)
			}
		}
		all = append(all, ds...)
		label := "promotion (100%)"
		if int(step) <= len(weights) {
			label = fmt.Sprintf("step %d (%d%%)", step, weights[step-1])
		}
		fmt.Fprintln(w, statsRow(label, ds))
	}
	fmt.Fprintln(w, statsRow("all scheduled steps", all))
	w.Flush()
	halts := 0
	for _, h := range r.canaries.histories {
		halts += h.halts
	}
	fmt.Fprintf(out, "steps not seen on their own by the watch: %d; checks that held a step: %d\n", r.canaries.missed, halts)
}

func (r *results) printLatencies(out io.Writer) {
	var firstStep, rollout []time.Duration
	for _, h := range r.canaries.histories {
		if !h.firstStepAt.IsZero() {
			firstStep = append(firstStep, h.firstStepAt.Sub(r.triggeredAt))
		}
		if !h.doneAt.IsZero() {
			rollout = append(rollout, h.doneAt.Sub(r.triggeredAt))
		}
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, "Other latencies")
	w := table(out)
	fmt.Fprintln(w, "what\tcount\tp50\tp90\tp99\tmax\t")
	fmt.Fprintln(w, statsRow("step decided → status seen by the watch", r.canaries.visible))
	fmt.Fprintln(w, statsRow("targets changed → step 1 (canary ready)", firstStep))
	fmt.Fprintln(w, statsRow("targets changed → rollout ended", rollout))
	w.Flush()
}

func (r *results) printMemory(out io.Writer) {
	fmt.Fprintln(out)
	w := table(out)
	if r.opts.replicas > 1 {
		fmt.Fprintln(w, "Manager memory (/proc/<pid>/status, sampled every second; the largest replica; the Go heap of all)\t")
	} else {
		fmt.Fprintln(w, "Manager memory (/proc/<pid>/status, sampled every second)\t")
	}
	fmt.Fprintf(w, "  RSS after initialisation\t%s\n", fmtKB(r.rssAfterInit))
	fmt.Fprintf(w, "  peak RSS (VmHWM)\t%s\n", fmtKB(max(r.peakRSSKB, r.memory.hwmKB)))
	fmt.Fprintf(w, "  final RSS (VmRSS)\t%s\n", fmtKB(r.memory.rssKB))
	fmt.Fprintf(w, "  Go heap in use at the end\t%s\n", fmtBytes(r.metricsAfter.sum("go_memstats_heap_inuse_bytes", nil)))
	w.Flush()
}

// steps is the number of traffic steps taken during the rollouts: every advance of
// status.stepIndex (the promotion and the return to the primary are not counted).
func (r *results) steps() int {
	n := 0
	for _, h := range r.canaries.histories {
		n += int(h.maxStep)
	}
	return n
}

func (r *results) printRequests(out io.Writer) {
	const name = "rest_client_requests_total"
	byMethod := delta(r.metricsBefore.sumBy(name, "method", nil), r.metricsAfter.sumBy(name, "method", nil))
	byCode := delta(r.metricsBefore.sumBy(name, "code", nil), r.metricsAfter.sumBy(name, "code", nil))
	steps, rollouts := r.steps(), len(r.canaries.histories)
	updates := 0
	for _, h := range r.canaries.histories {
		updates += h.updates
	}

	fmt.Fprintln(out)
	fmt.Fprintf(out, "API requests by the manager during the rollouts (%s): %d traffic steps taken (stepIndex advances), %d rollouts\n", name, steps, rollouts)
	w := table(out)
	fmt.Fprintln(w, "method\ttotal\tper step\tper rollout\t")
	row := func(label string, n float64) {
		fmt.Fprintf(w, "%s\t%.0f\t%s\t%s\t\n", label, n, ratio(n, steps), ratio(n, rollouts))
	}
	writes := 0.0
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		writes += byMethod[m]
	}
	row("writes (POST+PUT+PATCH+DELETE)", writes)
	if r.opts.replicas > 1 {
		leaseWrites := r.metricsAfter.sum("fledge_shard_lease_writes_total", nil) - r.metricsBefore.sum("fledge_shard_lease_writes_total", nil)
		row("  of which shard and member Leases", leaseWrites)
	}
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		row("  "+m, byMethod[m])
	}
	row("GET (uncached reads, lists, watches)", byMethod["GET"])
	row("Canary updates seen by the bench's watch", float64(updates))
	w.Flush()
	fmt.Fprintf(out, "responses by code: %s\n", formatCounts(byCode))
}

func (r *results) printController(out io.Writer) {
	before, after := r.metricsBefore, r.metricsAfter
	canary := where("controller", "canary")
	reconciles := delta(before.sumBy("controller_runtime_reconcile_total", "result", canary), after.sumBy("controller_runtime_reconcile_total", "result", canary))
	reconcileTime := histogramChange(before, after, "controller_runtime_reconcile_time_seconds", canary)
	queueWait := histogramChange(before, after, "workqueue_queue_duration_seconds", where("name", "canary"))
	throttle := histogramChange(before, after, "rest_client_rate_limiter_duration_seconds", nil)
	checkTime := histogramChange(before, after, "fledge_check_duration_seconds", nil)
	checkWait := histogramChange(before, after, "fledge_check_queue_seconds", nil)
	cpu := after.sum("process_cpu_seconds_total", nil) - before.sum("process_cpu_seconds_total", nil)

	fmt.Fprintln(out)
	w := table(out)
	fmt.Fprintln(w, "Canary controller during the rollouts (manager metrics)\t")
	workers := after.sum("controller_runtime_max_concurrent_reconciles", canary)
	total := 0.0
	for _, n := range reconciles {
		total += n
	}
	fmt.Fprintf(w, "  max concurrent reconciles (workers)\t%.0f\n", workers)
	fmt.Fprintf(w, "  reconciles by result\t%s (%s per rollout)\n", formatCounts(reconciles), ratio(total, len(r.canaries.histories)))
	fmt.Fprintf(w, "  reconcile time mean / p99 ≤\t%s / %s\n", fmtSeconds(reconcileTime.mean()), fmtSeconds(reconcileTime.quantileBound(0.99)))
	// The share of the rollouts' wall time the workers spent reconciling: near 100%, the
	// queue grows and steps run late.
	fmt.Fprintf(w, "  workers busy\t%s of %s (%.0f%%)\n", fmtSeconds(reconcileTime.sum), fmtDur(r.rolloutsTook), 100*reconcileTime.sum/max(workers, 1)/max(r.rolloutsTook.Seconds(), 1))
	fmt.Fprintf(w, "  work queue wait mean / p99 ≤\t%s / %s\n", fmtSeconds(queueWait.mean()), fmtSeconds(queueWait.quantileBound(0.99)))
	fmt.Fprintf(w, "  client-side rate-limit wait, total\t%s over %.0f requests\n", fmtSeconds(throttle.sum), throttle.count)
	// The checks run apart from the reconciles: their own time, and their wait for a worker.
	fmt.Fprintf(w, "  checks run\t%.0f (%.1f per second)\n", checkTime.count, checkTime.count/max(r.rolloutsTook.Seconds(), 1))
	fmt.Fprintf(w, "  check time p50 ≤ / p99 ≤\t%s / %s\n", fmtSeconds(checkTime.quantileBound(0.5)), fmtSeconds(checkTime.quantileBound(0.99)))
	fmt.Fprintf(w, "  wait for a check worker p99 ≤\t%s\n", fmtSeconds(checkWait.quantileBound(0.99)))
	fmt.Fprintf(w, "  manager CPU\t%.1f s (%.0f%% of one core)\n", cpu, 100*cpu/max(r.rolloutsTook.Seconds(), 1))
	l := r.log
	fmt.Fprintf(w, "Manager log (%s)\t%d lines, %d errors, %d conflicts, %d throttling notes\n", strings.Join(r.managerLogs, ", "), l.lines, l.errors, l.conflicts, l.throttling)
	w.Flush()
	for _, e := range l.topErrors {
		fmt.Fprintf(out, "  %5d × %s\n", e.count, e.message)
	}
	if l.readErr != nil {
		fmt.Fprintf(out, "  (reading the log failed: %v)\n", l.readErr)
	}
}

func table(out io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
}

// statsRow is label, count, p50, p90, p99 and max of ds (nearest-rank percentiles).
func statsRow(label string, ds []time.Duration) string {
	if len(ds) == 0 {
		return label + "\t0\t-\t-\t-\t-\t"
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	q := func(p float64) string {
		i := int(math.Ceil(p*float64(len(sorted)))) - 1
		return fmtDur(sorted[max(i, 0)])
	}
	return fmt.Sprintf("%s\t%d\t%s\t%s\t%s\t%s\t", label, len(sorted), q(0.50), q(0.90), q(0.99), fmtDur(sorted[len(sorted)-1]))
}

func fmtDur(d time.Duration) string {
	switch abs := max(d, -d); {
	case abs < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case abs < time.Second:
		return d.Round(100 * time.Microsecond).String()
	case abs < time.Minute:
		return d.Round(10 * time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}

func fmtSeconds(s float64) string {
	switch {
	case math.IsNaN(s):
		return "-"
	case math.IsInf(s, 1):
		return "+Inf"
	}
	return fmtDur(time.Duration(s * float64(time.Second)))
}

func fmtKB(kb int64) string { return fmt.Sprintf("%.1f MiB", float64(kb)/1024) }

func fmtBytes(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }

func ratio(n float64, d int) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", n/float64(d))
}

// formatCounts prints non-zero counts as "a 1, b 2", sorted by key.
func formatCounts(counts map[string]float64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		if counts[k] != 0 {
			parts = append(parts, fmt.Sprintf("%s %.0f", k, counts[k]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func compareKeys(a, b types.NamespacedName) int {
	return strings.Compare(a.String(), b.String())
}
