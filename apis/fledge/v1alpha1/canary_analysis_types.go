package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CanaryAnalysis is the step plan of a rollout and the checks that gate each step.
//
// Traffic moves by weight (stepWeights, or stepWeight up to maxWeight; 20, 40, 60, 80 when
// nothing is set) unless match is set: then only matching requests reach the canary, for
// iterations intervals (A/B testing).
// +kubebuilder:validation:XValidation:rule="!has(self.stepWeights) || (!has(self.stepWeight) && !has(self.maxWeight))",message="set either stepWeights or stepWeight with maxWeight, not both"
// +kubebuilder:validation:XValidation:rule="!has(self.stepWeight) || !has(self.maxWeight) || self.maxWeight >= self.stepWeight",message="maxWeight must be at least stepWeight"
// +kubebuilder:validation:XValidation:rule="!has(self.iterations) || has(self.match) || has(self.mirror)",message="iterations counts A/B or mirror intervals: set match (A/B testing) or mirror, or remove iterations"
// +kubebuilder:validation:XValidation:rule="!has(self.match) || has(self.iterations)",message="match (A/B testing) needs iterations: the number of intervals matching requests go to the canary before promotion"
// +kubebuilder:validation:XValidation:rule="!has(self.match) || (!has(self.stepWeight) && !has(self.maxWeight) && !has(self.stepWeights))",message="match (A/B testing) routes by request, not by weight: remove stepWeight, maxWeight and stepWeights"
// +kubebuilder:validation:XValidation:rule="!has(self.match) || !has(self.mirror)",message="mirror comes before weighted steps; it cannot be combined with match (A/B testing)"
// +kubebuilder:validation:XValidation:rule="!has(self.match) || !has(self.faultInjection)",message="faultInjection runs after the first weighted step; it cannot be combined with match (A/B testing)"
type CanaryAnalysis struct {
	// interval between two steps; each step runs the checks once.
	// +optional
	// +kubebuilder:default="1m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s')",message="interval must be at least 1s"
	// +kubebuilder:validation:XValidation:rule="duration(self) <= duration('24h')",message="interval must be at most 24h"
	Interval *metav1.Duration `json:"interval,omitempty"`

	// threshold is the number of failed checks after which the rollout is aborted.
	// +optional
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	Threshold int32 `json:"threshold,omitempty"`

	// stepWeight is the canary weight added at each step, up to maxWeight.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	StepWeight *int32 `json:"stepWeight,omitempty"`

	// maxWeight is the last canary weight before promotion.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	MaxWeight *int32 `json:"maxWeight,omitempty"`

	// stepWeights lists the canary weight of each step, in ascending order (for example
	// [5, 10, 25, 50]); after the last one the canary is promoted.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:XValidation:rule="self.all(w, w >= 1 && w <= 100)",message="each of stepWeights must be within 1..100"
	// +kubebuilder:validation:XValidation:rule="self.size() < 2 || self.isSorted() && self.all(w, self.filter(x, x == w).size() == 1)",message="stepWeights must be in ascending order without repeats, for example [20, 40, 60, 80]"
	StepWeights []int32 `json:"stepWeights,omitempty"`

	// iterations is the number of intervals of an A/B (match) or mirror phase.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	Iterations *int32 `json:"iterations,omitempty"`

	// match selects the requests that reach the canary during A/B testing; a request matches
	// when it matches any entry.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	Match []HTTPMatch `json:"match,omitempty"`

	// mirror shadows live traffic to the canary (its responses are discarded) for iterations
	// intervals before any live traffic reaches it.
	// +optional
	Mirror *Mirror `json:"mirror,omitempty"`

	// sessionAffinity keeps a user who once landed on the canary on it for the rest of the
	// rollout: canary answers set a cookie, and requests with it go to the canary. Without
	// it, a user may flip between versions from one request to the next.
	// +optional
	SessionAffinity *SessionAffinity `json:"sessionAffinity,omitempty"`

	// faultInjection adds, after the first traffic step, intervals in which the canary's own
	// calls to a dependency are delayed or fail (only the canary's: the faults apply to
	// requests from its pods), so that its checks prove it copes with a slow or failing
	// dependency before it gets more traffic. The faults are removed afterwards.
	// +optional
	FaultInjection *FaultInjection `json:"faultInjection,omitempty"`

	// testers are requests that always reach the canary while a rollout runs, whatever the
	// weight (for example a QA team's header); a request is a tester's when it matches any
	// entry. Their route is removed when the rollout ends.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	Testers []HTTPMatch `json:"testers,omitempty"`

	// metrics are the checks run at each step; all must pass for the step to count as passed.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=32
	Metrics []CanaryMetric `json:"metrics,omitempty"`

	// alerts name the alert providers told about the rollout, each with a severity.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	Alerts []CanaryAlert `json:"alerts,omitempty"`
}

// Mirror shadows a share of the live traffic to the canary.
type Mirror struct {
	// percentage of live requests copied to the canary.
	// +optional
	// +kubebuilder:default=100
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	Percentage int32 `json:"percentage,omitempty"`
}

// FaultInjection is a gate: faults on the canary's calls to a dependency.
// +kubebuilder:validation:XValidation:rule="has(self.delay) || has(self.abort)",message="faultInjection needs a delay, an abort or both"
type FaultInjection struct {
	// dependency is the host the canary calls: a Service name in the Canary's namespace
	// ("payments"), or "name.namespace".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?([.][a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*$')",message="dependency must be a host: a Service name (payments) or name.namespace"
	Dependency string `json:"dependency"`

	// delay holds a share of the calls for a while.
	// +optional
	Delay *FaultDelay `json:"delay,omitempty"`

	// abort answers a share of the calls with an error status.
	// +optional
	Abort *FaultAbort `json:"abort,omitempty"`

	// iterations is the number of intervals under fault.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	Iterations int32 `json:"iterations,omitempty"`
}

// FaultDelay delays a share of requests.
type FaultDelay struct {
	// fixedDelay added to each delayed request.
	// +required
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1ms') && self.matches('^([0-9]+(ms|s|m|h)|[0-9]+[.][0-9]{1,3}s)+$')",message="fixedDelay must be at least 1ms, in whole milliseconds (h, m, s or ms, at most three decimals on s, for example 1.5s or 250ms): Istio refuses anything finer"
	FixedDelay metav1.Duration `json:"fixedDelay"`

	// percentage of requests delayed.
	// +optional
	// +kubebuilder:default=100
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	Percentage int32 `json:"percentage,omitempty"`
}

// FaultAbort answers a share of requests with an error.
type FaultAbort struct {
	// httpStatus answered.
	// +optional
	// +kubebuilder:default=503
	// +kubebuilder:validation:Minimum=200
	// +kubebuilder:validation:Maximum=599
	HTTPStatus int32 `json:"httpStatus,omitempty"`

	// percentage of requests aborted.
	// +optional
	// +kubebuilder:default=100
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	Percentage int32 `json:"percentage,omitempty"`
}

// SessionAffinity is the cookie that keeps users on the canary during a rollout.
type SessionAffinity struct {
	// cookieName is the cookie's name.
	// +optional
	// +kubebuilder:default=fledge-canary
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_-]+$`
	CookieName string `json:"cookieName,omitempty"`

	// maxAge is how long the cookie lives.
	// +optional
	// +kubebuilder:default="24h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	MaxAge *metav1.Duration `json:"maxAge,omitempty"`
}

// CanaryMetric is one check: a built-in Istio metric or a MetricTemplate, and the range of
// values that passes.
// +kubebuilder:validation:XValidation:rule="has(self.builtin) != has(self.templateRef)",message="a metric names exactly one check: set either builtin or templateRef"
// +kubebuilder:validation:XValidation:rule="!has(self.templateVariables) || has(self.templateRef)",message="templateVariables are only used with templateRef"
// +kubebuilder:validation:XValidation:rule="has(self.thresholdRange) || has(self.compareToPrimary)",message="a metric needs thresholdRange (fixed bounds), compareToPrimary (relative to the primary), or both"
type CanaryMetric struct {
	// name of the check, unique within the Canary; shown in status and alerts.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// builtin names a built-in check: request-success-rate (percent of non-5xx responses) or
	// request-duration (p99 latency in milliseconds).
	// +optional
	// +kubebuilder:validation:Enum=request-success-rate;request-duration
	Builtin string `json:"builtin,omitempty"`

	// templateRef names a MetricTemplate whose query gives the value to check.
	// +optional
	TemplateRef *MetricTemplateRef `json:"templateRef,omitempty"`

	// templateVariables are extra variables for the template's query.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(self[k]) <= 1024)",message="each of templateVariables must be at most 1024 characters"
	TemplateVariables map[string]string `json:"templateVariables,omitempty"`

	// thresholdRange is the range of values that passes.
	// +optional
	ThresholdRange *ThresholdRange `json:"thresholdRange,omitempty"`

	// compareToPrimary judges the canary against the primary over the same window, instead
	// of (or as well as) fixed bounds.
	// +optional
	CompareToPrimary *PrimaryComparison `json:"compareToPrimary,omitempty"`

	// minRequests is the number of requests the canary must have served in the window for
	// the metric to be judged; with fewer the step waits (and fails at the progress deadline).
	// +optional
	// +kubebuilder:validation:Minimum=0
	MinRequests *int64 `json:"minRequests,omitempty"`

	// interval is the window over which the metric is measured. Defaults to the analysis interval.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s')",message="a metric interval must be at least 1s"
	Interval *metav1.Duration `json:"interval,omitempty"`
}

// PrimaryComparison bounds how much worse than the primary the canary may be, measured over
// the same window. Either set bounds on the difference of the two values, or a statistical
// test of the two samples.
// +kubebuilder:validation:XValidation:rule="has(self.statistical) ? !(has(self.maxIncrease) || has(self.maxIncreasePercent) || has(self.maxDecrease) || has(self.maxDecreasePercent)) : (has(self.maxIncrease) || has(self.maxIncreasePercent) || has(self.maxDecrease) || has(self.maxDecreasePercent))",message="compareToPrimary needs either bounds (maxIncrease, maxIncreasePercent, maxDecrease, maxDecreasePercent) or statistical, not both"
type PrimaryComparison struct {
	// maxIncrease is how much the canary's value may exceed the primary's, in the metric's
	// unit (milliseconds of latency, percentage points of errors).
	// +optional
	// +kubebuilder:validation:Minimum=0
	MaxIncrease *float64 `json:"maxIncrease,omitempty"`

	// maxIncreasePercent is how many percent above the primary's value the canary's may be.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MaxIncreasePercent *float64 `json:"maxIncreasePercent,omitempty"`

	// maxDecrease is how much the canary's value may fall below the primary's (for example
	// 1 for a success rate at most one point lower).
	// +optional
	// +kubebuilder:validation:Minimum=0
	MaxDecrease *float64 `json:"maxDecrease,omitempty"`

	// maxDecreasePercent is how many percent below the primary's value the canary's may be.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	MaxDecreasePercent *float64 `json:"maxDecreasePercent,omitempty"`

	// statistical compares the two samples over the window with a Mann-Whitney U test.
	// +optional
	Statistical *StatisticalComparison `json:"statistical,omitempty"`
}

// StatisticalComparison fails the canary when its sample is significantly worse than the
// primary's (a Mann-Whitney U test at the confidence level) and the change of the median is
// larger than the tolerated effect size.
// +kubebuilder:validation:XValidation:rule="!has(self.minSamples) || !has(self.samples) || self.minSamples <= self.samples",message="minSamples must not exceed samples"
type StatisticalComparison struct {
	// direction in which the canary must not move: Increase (latency, errors) or Decrease
	// (success rate, throughput).
	// +required
	// +kubebuilder:validation:Enum=Increase;Decrease
	Direction string `json:"direction"`

	// confidence level of the test; the canary fails when p < 1 - confidence.
	// +optional
	// +kubebuilder:default=0.95
	// +kubebuilder:validation:XValidation:rule="self >= 0.5 && self <= 0.9999",message="confidence must be within 0.5..0.9999, for example 0.95"
	Confidence float64 `json:"confidence,omitempty"`

	// maxEffectSize is the relative change of the median tolerated even when it is
	// significant, for example 0.1 for 10 %.
	// +optional
	// +kubebuilder:default=0.1
	// +kubebuilder:validation:Minimum=0
	MaxEffectSize float64 `json:"maxEffectSize,omitempty"`

	// samples is the number of points taken from each version over the window.
	// +optional
	// +kubebuilder:default=20
	// +kubebuilder:validation:Minimum=5
	// +kubebuilder:validation:Maximum=500
	Samples int32 `json:"samples,omitempty"`

	// minSamples is the number of points with data (not NaN: a point of a window without
	// requests has none) each version needs for the comparison; with fewer the step waits,
	// since too few points can never show a difference and would pass whatever they hold.
	// +optional
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=3
	// +kubebuilder:validation:Maximum=500
	MinSamples int32 `json:"minSamples,omitempty"`
}

// MetricTemplateRef names a MetricTemplate.
type MetricTemplateRef struct {
	// name of the MetricTemplate.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// namespace of the MetricTemplate. Defaults to the Canary's namespace.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
}

// ThresholdRange is an inclusive range; a missing bound is open.
// +kubebuilder:validation:XValidation:rule="has(self.min) || has(self.max)",message="thresholdRange needs min, max or both"
// +kubebuilder:validation:XValidation:rule="!has(self.min) || !has(self.max) || self.min <= self.max",message="thresholdRange.min must not be greater than thresholdRange.max"
type ThresholdRange struct {
	// min is the lowest value that passes.
	// +optional
	Min *float64 `json:"min,omitempty"`

	// max is the highest value that passes.
	// +optional
	Max *float64 `json:"max,omitempty"`
}

// CanaryAlert sends the rollout's news to an AlertProvider.
type CanaryAlert struct {
	// providerRef names the AlertProvider.
	// +required
	ProviderRef AlertProviderRef `json:"providerRef"`

	// severity filters the news: info (every transition), warn (waits, halts and failures) or
	// error (failures only).
	// +optional
	// +kubebuilder:default=info
	// +kubebuilder:validation:Enum=info;warn;error
	Severity string `json:"severity,omitempty"`
}

// AlertProviderRef names an AlertProvider.
type AlertProviderRef struct {
	// name of the AlertProvider.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// namespace of the AlertProvider. Defaults to the Canary's namespace.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
}
