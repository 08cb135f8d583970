package main

import "k8s.io/client-go/rest"

// Set only in a build with -tags faults (faults.go), for the fault suite; release builds
// leave them zero.
var (
	// faultHooks wraps the manager's API connection.
	faultHooks func(*rest.Config)
	// faultUnfenced runs a leader without its fence, to check that the fault suite sees what
	// the fence prevents.
	faultUnfenced bool
)
