package notifiers

import (
	"fmt"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// Kind is what happened to a rollout: the reason of the controller's event, as
// apis/fledge/v1alpha1 defines them, so that an event maps to a Kind without a table.
type Kind string

// Kinds of rollout transitions this package tells apart.
const (
	Started         Kind = fledgev1alpha1.ReasonStarted
	Restarted       Kind = fledgev1alpha1.ReasonRestarted
	Cancelled       Kind = fledgev1alpha1.ReasonCancelled
	Advanced        Kind = fledgev1alpha1.ReasonAdvanced
	Waiting         Kind = fledgev1alpha1.ReasonWaiting
	Halted          Kind = fledgev1alpha1.ReasonHalted
	Promoting       Kind = fledgev1alpha1.ReasonPromoting
	Promoted        Kind = fledgev1alpha1.ReasonPromoted
	Aborted         Kind = fledgev1alpha1.ReasonAborted
	RequestAccepted Kind = fledgev1alpha1.ReasonRequestAccepted
	RequestRejected Kind = fledgev1alpha1.ReasonRequestRejected
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
