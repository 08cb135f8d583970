package cluster

import (
	"fmt"
	"path/filepath"
	"syscall"
	"time"
)

// RestartAPIServer kills kube-apiserver (SIGKILL, as a crashed or evicted control plane
// node: its graceful stop waits a minute for long-running requests), waits down for d, and
// starts it again on the same port with the same certificates and service-account keys, so
// every client's credentials stay good: their connections break, their watches end, and they
// must come back on their own. It returns once the new process is healthy.
func (c *Cluster) RestartAPIServer(d time.Duration) error {
	arg := "--cert-dir=" + filepath.Join(c.Dir, "kube-apiserver")
	pid, err := findProcess(arg)
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill kube-apiserver: %w", err)
	}
	// envtest waits for its process: once reaped, it is gone from /proc.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if _, err := findProcess(arg); err != nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kube-apiserver (pid %d) still runs a minute after SIGKILL", pid)
		}
	}
	apiServer := c.env.ControlPlane.APIServer
	if err := apiServer.Stop(); err != nil { // the process has exited: this only tidies up
		return fmt.Errorf("stop kube-apiserver: %w", err)
	}
	time.Sleep(d)
	// envtest keeps the client CA and the port in the APIServer, and the serving certificate
	// and the service-account keys in its CertDir (ours, so never cleaned), and reuses them.
	if err := apiServer.Start(); err != nil {
		return fmt.Errorf("start kube-apiserver again (log in %s): %w", c.Dir, err)
	}
	return nil
}

// EtcdEndpoint is where etcd serves its clients (plain text, loopback): for a suite that must
// see every revision of an object, which only etcd's own watch guarantees across restarts of
// kube-apiserver.
func (c *Cluster) EtcdEndpoint() string { return c.env.ControlPlane.Etcd.URL.String() }
