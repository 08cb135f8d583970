package main

import (
	"fmt"
	"time"
)

// result is what the summary says of one rollout.
type result struct {
	title, phase, message        string
	took                         time.Duration
	canaryRequests, canaryErrors float64
}

func step(format string, args ...any) {
	fmt.Printf("\n▶ "+format+"\n", args...)
}

func done(format string, args ...any) {
	fmt.Printf("  ✓ "+format+"\n", args...)
}

func since(t time.Time) time.Duration { return time.Since(t).Round(100 * time.Millisecond) }

func summary(results []result) {
	step("Summary")
	for _, r := range results {
		fmt.Printf("  %s\n    %s after %s; the canary served about %.0f requests (%.0f errors, per Prometheus)\n    %s\n",
			r.title, r.phase, r.took, r.canaryRequests, r.canaryErrors, r.message)
	}
}
