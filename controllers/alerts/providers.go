// Package alerts delivers the notifications a Canary's outbox holds to its AlertProviders,
// in the background, so that a slow or failing Slack never holds a rollout back.
package alerts

import (
	"strings"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/notifiers"
)

// MaxOutbox bounds the outbox of a Canary.
const MaxOutbox = 50

// Target is one AlertProvider a Canary reports to, with the severity it receives.
type Target struct {
	// Key is namespace/name of the AlertProvider.
	Key             string
	Namespace, Name string
	Severity        notifiers.Severity
}

// TargetsOf lists the AlertProviders of a Canary: its alerts, or the default provider
// (namespace/name, severity info) when it names none.
func TargetsOf(canary *fledgev1alpha1.Canary, defaultProvider string) []Target {
	var out []Target
	for _, a := range canary.Spec.Analysis.Alerts {
		ns := a.ProviderRef.Namespace
		if ns == "" {
			ns = canary.Namespace
		}
		out = append(out, Target{Key: ns + "/" + a.ProviderRef.Name, Namespace: ns, Name: a.ProviderRef.Name, Severity: notifiers.Severity(a.Severity)})
	}
	if len(out) == 0 && defaultProvider != "" {
		ns, name := splitKey(defaultProvider)
		out = append(out, Target{Key: ns + "/" + name, Namespace: ns, Name: name, Severity: notifiers.SeverityInfo})
	}
	return out
}

// ProvidersOf lists the keys of TargetsOf.
func ProvidersOf(canary *fledgev1alpha1.Canary, defaultProvider string) []string {
	var keys []string
	for _, t := range TargetsOf(canary, defaultProvider) {
		keys = append(keys, t.Key)
	}
	return keys
}

// DeliveredToAll is the last sequence number every provider has dealt with.
func DeliveredToAll(n *fledgev1alpha1.NotificationsStatus, providers []string) int64 {
	lowest := int64(-1)
	for _, key := range providers {
		seq := providerProgress(n, key).Seq
		if lowest < 0 || seq < lowest {
			lowest = seq
		}
	}
	if lowest < 0 {
		return 0
	}
	return lowest
}

// Pending reports whether some provider has notifications left to deal with.
func Pending(canary *fledgev1alpha1.Canary, defaultProvider string) bool {
	n := canary.Status.Notifications
	if n == nil || len(n.Outbox) == 0 {
		return false
	}
	return DeliveredToAll(n, ProvidersOf(canary, defaultProvider)) < n.Outbox[len(n.Outbox)-1].Seq
}

func splitKey(key string) (string, string) {
	if ns, name, ok := strings.Cut(key, "/"); ok {
		return ns, name
	}
	return "default", key
}
