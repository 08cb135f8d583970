//go:build tools

// Package tools records the Istio binaries this module builds, so that `go mod tidy` keeps
// their dependencies: istiod (pilot-discovery), whose validating webhook judges every route
// Fledge writes in the tests, and istioctl, for its analyzers.
package tools

import (
	_ "istio.io/istio/istioctl/cmd/istioctl"
	_ "istio.io/istio/pilot/cmd/pilot-discovery"
)
