package analysis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// Reasons of the MetricsReady condition when a metric cannot be measured.
const (
	ReasonTemplateNotFound    = "TemplateNotFound"
	ReasonTemplateNotShared   = "TemplateNotShared"
	ReasonTemplateError       = "TemplateError"
	ReasonQueryRejected       = "QueryRejected"
	ReasonProviderUnreachable = "ProviderUnreachable"
	ReasonProviderConfig      = "ProviderMisconfigured"
)

// Analyzer runs a canary's metrics on Prometheus and judges them.
type Analyzer struct {
	// Reader reads MetricTemplates, and the metadata of Secrets, from the informer cache.
	Reader client.Reader
	// APIReader reads a provider's Secret when its resourceVersion changed.
	APIReader client.Reader
	Clock     clock.PassiveClock
	// DefaultAddress is the Prometheus of the built-in checks (the mesh's Prometheus).
	DefaultAddress string
	// NewQuerier makes a client for a provider; NewPrometheus when nil.
	NewQuerier func(PrometheusOptions) (Querier, error)
	// Parallel is how many of one canary's metrics are measured at once; DefaultParallel
	// when 0.
	Parallel int

	mu       sync.Mutex
	queriers map[string]Querier
}

var _ Checker = (*Analyzer)(nil)

// DefaultParallel is how many of a canary's metrics are measured at once when Parallel is 0:
// enough that a canary of many metrics is judged within its interval, few enough that one
// canary does not flood its provider.
const DefaultParallel = 4

// Check implements Checker. The metrics are measured a few at a time; when ctx ends first,
// those measured keep their verdicts and the others fail as not measured in time, so that
// the status shows which metric was slow.
func (a *Analyzer) Check(ctx context.Context, canary *fledgev1alpha1.Canary, w Workloads) Result {
	metrics := canary.Spec.Analysis.Metrics
	if len(metrics) == 0 {
		return Result{Verdict: Pass, Message: "no metrics to check"}
	}
	now := a.Clock.Now()
	statuses := make([]fledgev1alpha1.MetricStatus, len(metrics))
	problems := make([]*Problem, len(metrics))
	parallel := a.Parallel
	if parallel <= 0 {
		parallel = DefaultParallel
	}
	slots := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := range metrics {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			statuses[i], problems[i] = a.checkMetric(ctx, canary, &metrics[i], w, now)
		}()
	}
	wg.Wait()

	result := Result{Verdict: Pass}
	var failed, waiting []string
	for i, st := range statuses {
		st.Message = fledgev1alpha1.Bound(st.Message, fledgev1alpha1.MaxMetricMessage)
		result.Metrics = append(result.Metrics, st)
		if problems[i] != nil && result.Problem == nil {
			result.Problem = problems[i] // the first metric's in the spec's order, every time
		}
		switch Verdict(st.Verdict) {
		case Fail:
			failed = append(failed, st.Message)
		case Wait:
			waiting = append(waiting, st.Message)
		}
	}
	switch {
	case len(failed) > 0:
		result.Verdict, result.Message = Fail, fledgev1alpha1.Bound(strings.Join(failed, "; "), fledgev1alpha1.MaxMessage)
	case len(waiting) > 0:
		result.Verdict, result.Message = Wait, fledgev1alpha1.Bound(strings.Join(waiting, "; "), fledgev1alpha1.MaxMessage)
	default:
		result.Message = fmt.Sprintf("all %d metrics passed", len(metrics))
	}
	return result
}

// Preflight checks that every provider the canary's metrics use answers, when a rollout starts.
func (a *Analyzer) Preflight(ctx context.Context, canary *fledgev1alpha1.Canary) error {
	seen := map[Querier]bool{}
	for i := range canary.Spec.Analysis.Metrics {
		q, _, err := a.resolve(ctx, canary, &canary.Spec.Analysis.Metrics[i])
		if err != nil {
			return err
		}
		if seen[q] {
			continue
		}
		seen[q] = true
		if err := q.Ping(ctx); err != nil {
			return err
		}
	}
	return nil
}

// queryFunc renders the query of a metric for one workload.
type queryFunc func(QueryData) (string, error)

func (a *Analyzer) checkMetric(ctx context.Context, canary *fledgev1alpha1.Canary, metric *fledgev1alpha1.CanaryMetric, w Workloads, now time.Time) (fledgev1alpha1.MetricStatus, *Problem) {
	fail := func(p *Problem) (fledgev1alpha1.MetricStatus, *Problem) {
		if ctx.Err() != nil {
			// The check's time is up, not this metric's provider's own timeout.
			p = &Problem{Reason: fledgev1alpha1.ReasonChecksTimedOut, Message: "not measured within the interval: its metrics provider is slow or does not answer"}
		}
		return fledgev1alpha1.MetricStatus{Name: metric.Name, Verdict: string(Fail), Message: metric.Name + ": " + p.Message}, p
	}
	querier, query, err := a.resolve(ctx, canary, metric)
	if err != nil {
		return fail(problemOf(err))
	}
	win := metricWindow(canary, metric)
	data := queryData(canary, metric, win, w)

	var m Measurement
	if metric.MinRequests != nil {
		n, err := querier.Query(ctx, requestsQuery(data), now)
		switch {
		case errors.Is(err, ErrNoData):
			n = 0
		case err != nil:
			return fail(problemOf(err))
		}
		m.Requests = ptr(int64(math.Round(n)))
	}

	cmp := metric.CompareToPrimary
	if cmp != nil && data.Primary == "" {
		return fail(&Problem{Reason: ReasonTemplateError, Message: "compareToPrimary needs the primary's workload, which a Canary on existing subsets does not have"})
	}
	if metric.ThresholdRange != nil || cmp == nil || cmp.Statistical == nil {
		v, err := measure(ctx, querier, query, data, now)
		if err != nil {
			return fail(problemOf(err))
		}
		m.Value = v
	}
	if cmp != nil && cmp.Statistical == nil {
		primary := data
		primary.Workload = data.Primary
		v, err := measure(ctx, querier, query, primary, now)
		if err != nil {
			return fail(problemOf(err))
		}
		m.Primary = v
	}
	if cmp != nil && cmp.Statistical != nil {
		samples := cmp.Statistical.Samples
		if samples <= 0 {
			samples = 20
		}
		step := win / time.Duration(samples)
		for _, side := range []struct {
			workload string
			into     *[]float64
		}{{data.Canary, &m.CanarySample}, {data.Primary, &m.PrimarySample}} {
			d := data
			d.Workload, d.Interval = side.workload, window(step)
			q, err := query(d)
			if err != nil {
				return fail(problemOf(err))
			}
			points, err := querier.QueryRange(ctx, q, now.Add(-win+step), now, step)
			if err != nil {
				return fail(problemOf(err))
			}
			*side.into = points
		}
	}
	return Judge(metric, m), nil
}

// measure runs the metric's query for one workload; no data is a nil value, not an error.
func measure(ctx context.Context, q Querier, query queryFunc, data QueryData, now time.Time) (*float64, error) {
	text, err := query(data)
	if err != nil {
		return nil, err
	}
	v, err := q.Query(ctx, text, now)
	switch {
	case errors.Is(err, ErrNoData):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return &v, nil
}

// resolve finds the provider and the query of a metric: the default Prometheus for built-in
// checks, the MetricTemplate's provider and query otherwise.
func (a *Analyzer) resolve(ctx context.Context, canary *fledgev1alpha1.Canary, metric *fledgev1alpha1.CanaryMetric) (Querier, queryFunc, error) {
	if metric.TemplateRef == nil {
		if a.DefaultAddress == "" {
			return nil, nil, &configError{reason: ReasonProviderConfig, msg: "no Prometheus address for the built-in checks: start the manager with --prometheus-address"}
		}
		q, err := a.querier(PrometheusOptions{Address: a.DefaultAddress})
		if err != nil {
			return nil, nil, err
		}
		return q, func(d QueryData) (string, error) { return builtinQuery(metric.Builtin, d) }, nil
	}
	ref := metric.TemplateRef
	namespace := ref.Namespace
	if namespace == "" {
		namespace = canary.Namespace
	}
	tmpl := &fledgev1alpha1.MetricTemplate{}
	if err := a.Reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ref.Name}, tmpl); err != nil {
		return nil, nil, &configError{reason: ReasonTemplateNotFound, msg: fmt.Sprintf("MetricTemplate %s/%s: %v", namespace, ref.Name, err)}
	}
	if !fledgev1alpha1.MaySee(tmpl.Namespace, tmpl.Spec.SharedWith, canary.Namespace) {
		// Its query would run with its owner's credentials, and its answers show here.
		return nil, nil, &configError{reason: ReasonTemplateNotShared, msg: fmt.Sprintf(
			"MetricTemplate %s/%s is not shared with namespace %s: its owners may add %q to its spec.sharedWith, or copy it into %s",
			namespace, ref.Name, canary.Namespace, canary.Namespace, canary.Namespace)}
	}
	opts, err := a.providerOptions(ctx, tmpl)
	if err != nil {
		return nil, nil, err
	}
	q, err := a.querier(opts)
	if err != nil {
		return nil, nil, err
	}
	return q, func(d QueryData) (string, error) {
		text, err := renderQuery(tmpl.Spec.Query, d)
		if err != nil {
			return "", &configError{reason: ReasonTemplateError, msg: fmt.Sprintf("MetricTemplate %s/%s: %v; the query is %q", namespace, ref.Name, err, tmpl.Spec.Query)}
		}
		return text, nil
	}, nil
}

// providerOptions reads a MetricTemplate's provider, with the credentials of its Secret.
func (a *Analyzer) providerOptions(ctx context.Context, tmpl *fledgev1alpha1.MetricTemplate) (PrometheusOptions, error) {
	p := tmpl.Spec.Provider
	opts := PrometheusOptions{Address: p.Address, InsecureSkipVerify: p.InsecureSkipVerify}
	if p.Timeout != nil {
		opts.Timeout = p.Timeout.Duration
	}
	if p.SecretRef == nil {
		return opts, nil
	}
	secret := &corev1.Secret{}
	key := client.ObjectKey{Namespace: tmpl.Namespace, Name: p.SecretRef.Name}
	if err := a.APIReader.Get(ctx, key, secret); err != nil {
		return opts, &configError{reason: ReasonProviderConfig, msg: fmt.Sprintf("the Secret %s of MetricTemplate %s: %v", key, tmpl.Name, err)}
	}
	opts.BearerToken = string(secret.Data["token"])
	opts.Username, opts.Password = string(secret.Data["username"]), string(secret.Data["password"])
	opts.CA = string(secret.Data["ca.crt"])
	return opts, nil
}

// querier returns a client for opts, reusing one made before for the same options.
func (a *Analyzer) querier(opts PrometheusOptions) (Querier, error) {
	key := fmt.Sprintf("%s|%s|%s|%s|%v|%s|%x", opts.Address, opts.Timeout, opts.Username, opts.CA, opts.InsecureSkipVerify,
		opts.BearerToken, opts.Password) // the map stays in memory; nothing of it is logged
	a.mu.Lock()
	defer a.mu.Unlock()
	if q, ok := a.queriers[key]; ok {
		return q, nil
	}
	newQuerier := a.NewQuerier
	if newQuerier == nil {
		newQuerier = func(o PrometheusOptions) (Querier, error) { return NewPrometheus(o) }
	}
	q, err := newQuerier(opts)
	if err != nil {
		return nil, &configError{reason: ReasonProviderConfig, msg: err.Error()}
	}
	if a.queriers == nil {
		a.queriers = map[string]Querier{}
	}
	a.queriers[key] = q
	return q, nil
}

func metricWindow(canary *fledgev1alpha1.Canary, metric *fledgev1alpha1.CanaryMetric) time.Duration {
	if metric.Interval != nil && metric.Interval.Duration > 0 {
		return metric.Interval.Duration
	}
	return canary.Spec.Analysis.StepInterval()
}

// queryData is what a query sees: the canary's names, the workloads measured, the window.
func queryData(canary *fledgev1alpha1.Canary, metric *fledgev1alpha1.CanaryMetric, win time.Duration, w Workloads) QueryData {
	d := QueryData{
		Namespace: canary.Namespace, Target: canary.Spec.TargetRef.Name,
		Canary: w.Canary, Primary: w.Primary, Workload: w.Canary,
		Interval: window(win), Variables: escapedVariables(metric.TemplateVariables),
	}
	return d
}

// configError is a metric that cannot be measured as configured.
type configError struct {
	reason, msg string
}

func (e *configError) Error() string { return e.msg }

// problemOf turns an error of measuring into a Problem for the MetricsReady condition.
func problemOf(err error) *Problem {
	var cfg *configError
	var qe *QueryError
	switch {
	case errors.As(err, &cfg):
		return &Problem{Reason: cfg.reason, Message: cfg.msg}
	case errors.As(err, &qe) && qe.Rejected:
		return &Problem{Reason: ReasonQueryRejected, Message: qe.Error()}
	}
	return &Problem{Reason: ReasonProviderUnreachable, Message: err.Error()}
}

// Stamp sets when metrics were measured.
func Stamp(metrics []fledgev1alpha1.MetricStatus, at time.Time) []fledgev1alpha1.MetricStatus {
	out := make([]fledgev1alpha1.MetricStatus, len(metrics))
	for i, m := range metrics {
		m.MeasuredAt = metav1.NewTime(at)
		out[i] = m
	}
	return out
}
