package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"fledge.dev/fledge/test/cluster"
)

// startStack starts the local stack, again when it fails on a conflict: the harness creates a
// node and then updates it, and kwok may write the node in between (more likely with many
// nodes on a busy machine).
func startStack(ctx context.Context, nodes int) (*cluster.Cluster, error) {
	for attempt := 1; ; attempt++ {
		stack, err := cluster.Start(ctx, cluster.Options{Workloads: true, Nodes: nodes})
		switch {
		case err == nil:
			return stack, nil
		case attempt < 3 && apierrors.IsConflict(err) && ctx.Err() == nil:
			fmt.Printf("bench: the local stack failed to start (%v); starting it again\n", err)
		default:
			return nil, fmt.Errorf("start the local stack: %w", err)
		}
	}
}

// keepStackLogs copies the logs of the stack's processes into outDir: Stop removes them.
func keepStackLogs(stack *cluster.Cluster, outDir string) error {
	logs, err := filepath.Glob(filepath.Join(stack.Dir, "*.log"))
	if err != nil {
		return err
	}
	dest := filepath.Join(outDir, "stack")
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return fmt.Errorf("keep the stack's logs: %w", err)
	}
	for _, path := range logs {
		data, err := os.ReadFile(path)
		if err == nil {
			err = os.WriteFile(filepath.Join(dest, filepath.Base(path)), data, 0o644)
		}
		if err != nil {
			return fmt.Errorf("keep the stack's log %s: %w", path, err)
		}
	}
	return nil
}

func stopStack(stack *cluster.Cluster) error {
	if err := stack.Stop(); err != nil {
		return fmt.Errorf("stop the local stack: %w", err)
	}
	return nil
}
