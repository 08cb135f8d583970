package notifiers

import "fmt"

// Kind is what happened to a rollout. The values are the reasons of the controller's events
// (controllers/rollout), so that an event maps to a Kind without a table.
type Kind string

// Kinds of rollout transitions.
const (
	Started         Kind = "RolloutStarted"
	Restarted       Kind = "RolloutRestarted"
	Cancelled       Kind = "RolloutCancelled"
	Advanced        Kind = "Advanced"
	Waiting         Kind = "Waiting"
	Halted          Kind = "Halted"
	Promoting       Kind = "Promoting"
	Promoted        Kind = "Promoted"
	Aborted         Kind = "Aborted"
	RequestAccepted Kind = "RequestAccepted"
	RequestRejected Kind = "RequestRejected"
)

// Severity filters what a provider receives.
type Severity string

// Severities, from the most to the least talkative.
const (
	// SeverityInfo receives every transition.
	SeverityInfo Severity = "info"
	// SeverityWarn receives waits, halts, failures and rejected requests.
	SeverityWarn Severity = "warn"
	// SeverityError receives failures (Aborted) only.
	SeverityError Severity = "error"
)

// Severity is how much the transition deserves attention.
func (k Kind) Severity() Severity {
	switch k {
	case Aborted:
		return SeverityError
	case Waiting, Halted, RequestRejected:
		return SeverityWarn
	default:
		// Unknown kinds are news, not alarms: a newer controller must not page anyone by accident.
		return SeverityInfo
	}
}

// ParseSeverity checks a configured severity; empty means info.
func ParseSeverity(s string) (Severity, error) {
	switch Severity(s) {
	case "":
		return SeverityInfo, nil
	case SeverityInfo, SeverityWarn, SeverityError:
		return Severity(s), nil
	}
	return "", fmt.Errorf("unknown severity %q: use info, warn or error", s)
}

// Allows reports whether a provider configured with providerSeverity receives n.
// An empty or unknown providerSeverity counts as info, so that nothing is silently dropped.
func Allows(providerSeverity Severity, n Notification) bool {
	return rank(n.Kind.Severity()) >= rank(providerSeverity)
}

func rank(s Severity) int {
	switch s {
	case SeverityError:
		return 2
	case SeverityWarn:
		return 1
	default:
		return 0
	}
}
