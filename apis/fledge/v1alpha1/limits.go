package v1alpha1

import "unicode/utf8"

// Bounds of what Fledge writes into a Canary's status and events. A message quotes queries
// and joins the failures of up to 32 metrics: unbounded, it would pass the 32,768 characters
// the API allows a condition's message, the status patch would be refused, and the rollout
// would stop moving, neither aborted nor promoted.
const (
	// MaxMessage bounds status.message and the messages of conditions.
	MaxMessage = 4096
	// MaxMetricMessage bounds the message of each metric in status.metrics.
	MaxMetricMessage = 1024
	// MaxEventMessage bounds the note of an event (the API's own limit is 1 kB).
	MaxEventMessage = 1000
)

// Bound cuts s to at most max bytes, on a character boundary, and says that it did.
func Bound(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const more = " …"
	if max < len(more) {
		return "" // too small to say anything
	}
	cut := max - len(more)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + more
}
