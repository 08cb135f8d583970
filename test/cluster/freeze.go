package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// FreezeEtcd stops etcd for d (SIGSTOP, then SIGCONT): the API server's requests hang, its
// watches stall, and everything comes back as it was.
func (c *Cluster) FreezeEtcd(d time.Duration) error {
	return c.freeze("--data-dir="+filepath.Join(c.Dir, "etcd"), d)
}

// FreezeAPIServer stops kube-apiserver for d: every client's requests and watches hang, then
// time out or resume.
func (c *Cluster) FreezeAPIServer(d time.Duration) error {
	return c.freeze("--cert-dir="+filepath.Join(c.Dir, "kube-apiserver"), d)
}

// FreezeIstiod stops istiod for d: its validating webhook times out, so every write of an
// Istio object fails (its failurePolicy is Fail, as on a cluster), and the sidecars' xDS
// streams hang with the configuration they last had.
func (c *Cluster) FreezeIstiod(d time.Duration) error {
	if c.istiod == nil {
		return fmt.Errorf("this stack runs no istiod (Options.Istio)")
	}
	if err := c.istiod.Freeze(); err != nil {
		return err
	}
	time.Sleep(d)
	return c.istiod.Thaw()
}

// freeze stops, for d, the process of the stack whose command line holds arg (envtest runs
// etcd and kube-apiserver itself, so their pids are found by their flags).
func (c *Cluster) freeze(arg string, d time.Duration) error {
	pid, err := findProcess(arg)
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return err
	}
	time.Sleep(d)
	return syscall.Kill(pid, syscall.SIGCONT)
}

func findProcess(arg string) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		for _, a := range strings.Split(string(cmdline), "\x00") {
			if a == arg {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("no process of the stack runs with %s", arg)
}
