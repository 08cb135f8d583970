package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"fledge.dev/fledge/test/cluster"
)

func startStack(ctx context.Context, nodes int) (*cluster.Cluster, error) {
	stack, err := cluster.Start(ctx, cluster.Options{Workloads: true, Nodes: nodes})
	if err != nil {
		return nil, fmt.Errorf("start the local stack: %w", err)
	}
	return stack, nil
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
