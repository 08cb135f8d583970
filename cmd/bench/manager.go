package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"fledge.dev/fledge/test/cluster"
)

// managerProcess is the Fledge manager binary, run as a subprocess against the local stack.
type managerProcess struct {
	*cluster.Process
	logPath    string
	metricsURL string
}

// startManager starts replica i of the manager.
func startManager(opts options, kubeconfig, outDir string, i int) (*managerProcess, error) {
	path, err := filepath.Abs(opts.managerPath)
	if err != nil {
		return nil, fmt.Errorf("find the manager binary %s: %w", opts.managerPath, err)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("the manager binary %s is missing (make bench builds it; by hand: go build -o bin/fledge-manager ./cmd/manager): %w", path, err)
	}
	port, err := freeLoopbackPort()
	if err != nil {
		return nil, err
	}
	metricsAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := []string{
		// The kubeconfig lies in the stack's folder: the stack's reaper kills the
		// manager should the bench die without cleaning up.
		"--kubeconfig=" + kubeconfig,
		// Plain HTTP on loopback: the bench scrapes without credentials.
		"--metrics-bind-address=" + metricsAddr,
		"--metrics-secure=false",
		"--health-probe-bind-address=0",
		"--leader-elect=false",
		"--shards=" + strconv.Itoa(opts.shards),
		// Where the shard Leases are when there are shards (the bench runs no pod).
		"--leader-election-namespace=" + cluster.ManagerNamespace,
		"--kube-api-qps=" + strconv.FormatFloat(opts.qps, 'f', -1, 64),
		"--kube-api-burst=" + strconv.Itoa(opts.burst),
	}
	if opts.prometheusURL != "" {
		args = append(args, "--prometheus-address="+opts.prometheusURL)
	} else {
		// The Canaries have no metrics, so no check queries Prometheus; should one ever do,
		// it stays on loopback (the discard port) instead of the in-cluster default.
		args = append(args, "--prometheus-address=http://127.0.0.1:9")
	}
	if opts.workers > 0 {
		args = append(args, "--max-concurrent-reconciles="+strconv.Itoa(opts.workers))
	}
	// A process group of its own, so that Ctrl-C reaches only the bench, which stops the
	// manager after its last scrape.
	name := "manager"
	if opts.replicas > 1 {
		name = fmt.Sprintf("manager-%d", i)
	}
	proc, err := cluster.StartProcess(outDir, name, path, args...)
	if err != nil {
		return nil, err
	}
	m := &managerProcess{Process: proc, logPath: filepath.Join(outDir, name+".log"), metricsURL: "http://" + metricsAddr + "/metrics"}
	fmt.Printf("bench: %s started (pid %d), metrics on %s\n", name, proc.Pid(), m.metricsURL)
	return m, nil
}

// waitServing waits until the metrics endpoint answers: the manager has started.
func (m *managerProcess) waitServing(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if _, err := m.scrape(ctx); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			return fmt.Errorf("the manager's metrics endpoint did not answer within %s: %w", timeout, err)
		}
		if err := m.Running(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// scrape reads the manager's metrics.
func (m *managerProcess) scrape(ctx context.Context) (metrics, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.metricsURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := loopbackHTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape the manager's metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape the manager's metrics: %s", resp.Status)
	}
	return parseMetrics(resp.Body)
}

// loopbackHTTP never goes through a proxy: the manager listens on loopback.
var loopbackHTTP = &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 10 * time.Second}

// freeLoopbackPort asks the kernel for a free port; it is free again once the listener
// closes, and the manager takes it right after.
func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free loopback port for the manager's metrics: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
