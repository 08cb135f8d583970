package main

import (
	"fmt"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	ctrl "sigs.k8s.io/controller-runtime"

	"fledge.dev/fledge/controllers/fence"
)

// leaderElectionID names the Lease the replicas compete for.
const leaderElectionID = "fledge.dev"

// inClusterNamespace is where a pod finds its own namespace.
const inClusterNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// leaderLease is the lock the manager elects its leader with, wrapped in a fence.Lease so
// that the controllers stop acting as soon as this process may no longer lead: a replica
// that was frozen past its lease finds out before its next write, not at its next renewal.
func leaderLease(cfg *rest.Config, namespace string, t leaseTimings) (*fence.Lease, error) {
	if namespace == "" {
		data, err := os.ReadFile(inClusterNamespace)
		if err != nil {
			return nil, fmt.Errorf("find the namespace of the leader-election Lease: not in a pod, so set --leader-election-namespace: %w", err)
		}
		namespace = strings.TrimSpace(string(data))
	}
	host, err := os.Hostname()
	if err != nil {
		return nil, err
	}
	identity := host + "_" + string(uuid.NewUUID())
	lock, err := resourcelock.NewFromKubeconfig(resourcelock.LeasesResourceLock, namespace, leaderElectionID,
		resourcelock.ResourceLockConfig{Identity: identity}, cfg, t.renew)
	if err != nil {
		return nil, fmt.Errorf("make the leader-election lock: %w", err)
	}
	ctrl.Log.WithName("leader-election").Info("candidate for the leader lease", "lease", namespace+"/"+leaderElectionID, "identity", identity)
	// The elector gives the lease up itself when it cannot renew within its renew deadline.
	return &fence.Lease{Interface: lock, Valid: t.renew}, nil
}
