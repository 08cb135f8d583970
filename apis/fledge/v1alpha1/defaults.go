package v1alpha1

import "time"

// Defaults of the fields the API server defaults. The markers on the fields carry the same
// values (TestDefaultsMatchTheSchema checks it); the code applies them too, for specs built
// in Go without passing admission (tests, objects stored by older versions).
const (
	DefaultInterval                = time.Minute
	DefaultThreshold               = 5
	DefaultProgressDeadlineSeconds = 600
	DefaultScaleDownDelaySeconds   = 30
	DefaultStepWeight              = 20
	DefaultMaxWeight               = 80
	// DefaultSessionCookie and DefaultSessionMaxAge are the cookie of session affinity.
	DefaultSessionCookie = "fledge-canary"
	DefaultSessionMaxAge = 24 * time.Hour
	// DefaultMirrorPercentage is the share of live traffic a mirror step copies.
	DefaultMirrorPercentage = 100
	// MaxHistory is how many rollouts status.history keeps, the newest last.
	MaxHistory = 20
)

// StepInterval is the time between two steps, and the window of the built-in checks.
func (a *CanaryAnalysis) StepInterval() time.Duration {
	if a.Interval == nil || a.Interval.Duration <= 0 {
		return DefaultInterval
	}
	return a.Interval.Duration
}

// FailureThreshold is the number of failed checks that aborts a rollout.
func (a *CanaryAnalysis) FailureThreshold() int32 {
	if a.Threshold <= 0 {
		return DefaultThreshold
	}
	return a.Threshold
}

// ScaleDownDelay is how long an ended rollout's canary keeps running after the routes left it.
func (s *CanarySpec) ScaleDownDelay() time.Duration {
	if s.ScaleDownDelaySeconds == nil {
		return DefaultScaleDownDelaySeconds * time.Second
	}
	return time.Duration(max(*s.ScaleDownDelaySeconds, 0)) * time.Second
}

// ProgressDeadline is how long a canary may take to become ready, or a step may wait to be
// judged.
func (s *CanarySpec) ProgressDeadline() time.Duration {
	if s.ProgressDeadlineSeconds == nil || *s.ProgressDeadlineSeconds <= 0 {
		return DefaultProgressDeadlineSeconds * time.Second
	}
	return time.Duration(*s.ProgressDeadlineSeconds) * time.Second
}
