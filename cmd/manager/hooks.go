package main

import "k8s.io/client-go/rest"

// faultHooks, set only in a build with -tags faults (faults.go), wraps the manager's API
// connection for the fault suite. Release builds leave it nil.
var faultHooks func(*rest.Config)
