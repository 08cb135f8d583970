// Package meshsim stands in for Envoy on a test cluster that has no data plane: given a
// snapshot of the live Istio VirtualServices and DestinationRules, the Services and the Pods,
// it routes synthetic requests the way an Istio sidecar (or gateway) would, draws each outcome
// from the behaviour the serving pod's annotations describe, and records what Istio's
// destination reporter would have seen.
//
// Everything here is pure: the caller builds a Mesh from its informer caches, calls NewIndex
// whenever the mesh changes, and routes requests through the Index. An Index is read-only and
// safe for concurrent use (give each goroutine its own *rand.Rand).
package meshsim
