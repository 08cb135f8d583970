package controllers

import (
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/rollout"
)

// Controller metrics, served with controller-runtime's own on the manager's /metrics.
var (
	canaryPhase = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "fledge_canary_phase", Help: "1 for the phase each Canary is in.",
	}, []string{"namespace", "name", "phase"})
	canaryWeight = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "fledge_canary_weight", Help: "Percentage of traffic routed to each canary.",
	}, []string{"namespace", "name"})
	canaryFailedChecks = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "fledge_canary_failed_checks", Help: "Failed checks of each Canary's current rollout.",
	}, []string{"namespace", "name"})
	stepDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "fledge_step_duration_seconds", Help: "Time from one traffic step to the next.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 14),
	})
	stepLateness = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "fledge_step_lateness_seconds", Help: "How late the checks of a step ran after they fell due.",
		Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60},
	})
	rolloutDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "fledge_rollout_duration_seconds", Help: "Time from the start of a rollout to its end, by result (Succeeded, Failed, Cancelled, Superseded).",
		Buckets: prometheus.ExponentialBuckets(10, 2, 14),
	}, []string{"result"})
	analysisResults = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fledge_analysis_results_total", Help: "Verdicts of the checks of a step.",
	}, []string{"verdict"})
	checkDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "fledge_check_duration_seconds", Help: "Time the checks of one step took to run, by verdict (its queries, apart from the reconciles).",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
	}, []string{"verdict"})
	checkQueueWait = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "fledge_check_queue_seconds", Help: "Time the checks of one step waited for a check worker.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
	})
	analysisProblems = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fledge_analysis_problems_total", Help: "Checks that could not measure a metric, by reason (provider unreachable, query rejected, ...).",
	}, []string{"reason"})
)

var phases = []fledgev1alpha1.CanaryPhase{
	fledgev1alpha1.PhaseInitializing, fledgev1alpha1.PhaseInitialized, fledgev1alpha1.PhaseQueued, fledgev1alpha1.PhaseProgressing,
	fledgev1alpha1.PhasePromoting, fledgev1alpha1.PhaseSucceeded, fledgev1alpha1.PhaseFailed,
}

func init() {
	ctrlmetrics.Registry.MustRegister(canaryPhase, canaryWeight, canaryFailedChecks, stepDuration, stepLateness, rolloutDuration, analysisResults, analysisProblems, checkDuration, checkQueueWait)
}

// observeMetrics records the metrics of one reconcile: the canary's state after the decision, and
// what happened in it.
func observeMetrics(canary *fledgev1alpha1.Canary, before, after *fledgev1alpha1.CanaryStatus, obs *rollout.Observation) {
	for _, p := range phases {
		v := 0.0
		if after.Phase == p {
			v = 1
		}
		canaryPhase.WithLabelValues(canary.Namespace, canary.Name, string(p)).Set(v)
	}
	canaryWeight.WithLabelValues(canary.Namespace, canary.Name).Set(float64(after.CanaryWeight))
	canaryFailedChecks.WithLabelValues(canary.Namespace, canary.Name).Set(float64(after.FailedChecks))

	if r := obs.Checks; r != nil {
		analysisResults.WithLabelValues(string(r.Verdict)).Inc()
		if r.Problem != nil {
			analysisProblems.WithLabelValues(r.Problem.Reason).Inc()
		}
		if before.LastCheckTime != nil {
			due := before.LastCheckTime.Add(canary.Spec.Analysis.StepInterval())
			stepLateness.Observe(obs.Now.Sub(due).Seconds())
		}
	}
	if after.StepIndex > before.StepIndex && before.StepIndex > 0 && before.LastTransitionTime != nil {
		stepDuration.Observe(obs.Now.Sub(before.LastTransitionTime.Time).Seconds())
	}
	for _, r := range endedRollouts(before, after) {
		rolloutDuration.WithLabelValues(string(r.Result)).Observe(r.EndTime.Sub(r.StartTime.Time).Seconds())
	}
}

// endedRollouts are the rollouts whose record the decision closed.
func endedRollouts(before, after *fledgev1alpha1.CanaryStatus) []fledgev1alpha1.RolloutRecord {
	endedBefore := map[string]bool{}
	for _, r := range before.History {
		endedBefore[r.ID] = r.EndTime != nil
	}
	var ended []fledgev1alpha1.RolloutRecord
	for _, r := range after.History {
		if r.EndTime != nil && !endedBefore[r.ID] {
			ended = append(ended, r)
		}
	}
	return ended
}

// forgetMetrics drops the series of a deleted Canary.
func forgetMetrics(namespace, name string) {
	labels := prometheus.Labels{"namespace": namespace, "name": name}
	canaryPhase.DeletePartialMatch(labels)
	canaryWeight.DeletePartialMatch(labels)
	canaryFailedChecks.DeletePartialMatch(labels)
}
