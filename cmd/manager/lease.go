package main

import (
	"fmt"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/util/uuid"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	ctrl "sigs.k8s.io/controller-runtime"

	"fledge.dev/fledge/controllers/fence"
	"fledge.dev/fledge/controllers/shard"
)

// leaderElectionID names the Lease the replicas compete for.
const leaderElectionID = "fledge.dev"

// inClusterNamespace is where a pod finds its own namespace.
const inClusterNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// leaderLease is the lock the manager elects its leader with, wrapped in a fence.Lease so
// that the controllers stop acting as soon as this process may no longer lead: a replica
// that was frozen past its lease finds out before its next write, not at its next renewal.
func leaderLease(cfg *rest.Config, namespace string, t leaseTimings) (*fence.Lease, error) {
	namespace, err := leaseNamespace(namespace)
	if err != nil {
		return nil, err
	}
	identity, _, err := replicaIdentity()
	if err != nil {
		return nil, err
	}
	lock, err := resourcelock.NewFromKubeconfig(resourcelock.LeasesResourceLock, namespace, leaderElectionID,
		resourcelock.ResourceLockConfig{Identity: identity}, cfg, t.renew)
	if err != nil {
		return nil, fmt.Errorf("make the leader-election lock: %w", err)
	}
	ctrl.Log.WithName("leader-election").Info("candidate for the leader lease", "lease", namespace+"/"+leaderElectionID, "identity", identity)
	// The elector gives the lease up itself when it cannot renew within its renew deadline.
	return &fence.Lease{Interface: lock, Valid: t.renew}, nil
}

// shardCoordinator shares the Canaries with the other replicas in shards (package shard), on
// Leases in the leader-election namespace, with the leader-election timings. Make it before
// the manager's connection is fenced: it must go on renewing or giving up its Leases.
func shardCoordinator(cfg *rest.Config, namespace string, t leaseTimings, shards int) (*shard.Coordinator, error) {
	namespace, err := leaseNamespace(namespace)
	if err != nil {
		return nil, err
	}
	identity, member, err := replicaIdentity()
	if err != nil {
		return nil, err
	}
	// A rate limit of its own, so that its renewals never wait behind the controllers'
	// writes, nor behind each other: a round's requests go out at once.
	leaseCfg := rest.CopyConfig(cfg)
	leaseCfg.Burst = shard.RequestsPerRound(shards)
	leaseCfg.QPS = float32(leaseCfg.Burst) / float32(t.retry.Seconds())
	leases, err := coordinationv1client.NewForConfig(leaseCfg)
	if err != nil {
		return nil, fmt.Errorf("make the client of the shard Leases: %w", err)
	}
	return &shard.Coordinator{
		Leases: leases, Namespace: namespace, Prefix: shardLeasePrefix,
		Identity: identity, Member: member, Shards: shards,
		LeaseDuration: t.lease, RenewDeadline: t.renew, RetryPeriod: t.retry,
		Log: ctrl.Log.WithName("shards"),
	}, nil
}

// shardLeasePrefix begins the names of the shard and member Leases.
const shardLeasePrefix = "fledge"

// leaseNamespace is the namespace given, or the pod's own.
func leaseNamespace(namespace string) (string, error) {
	if namespace != "" {
		return namespace, nil
	}
	data, err := os.ReadFile(inClusterNamespace)
	if err != nil {
		return "", fmt.Errorf("find the namespace of the leader-election Lease: not in a pod, so set --leader-election-namespace: %w", err)
	}
	return strings.TrimSpace(string(data)), nil
}

// replicaIdentity names this process in Leases: its host (the pod) and a UUID, for a process
// restarted in the same pod must not pass for the one before; the UUID alone names its
// member Lease.
func replicaIdentity() (identity, id string, err error) {
	host, err := os.Hostname()
	if err != nil {
		return "", "", err
	}
	id = string(uuid.NewUUID())
	return host + "_" + id, id, nil
}
