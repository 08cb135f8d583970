package cluster

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
)

// The reaper makes sure no process of a stack outlives the test binary, however it ends
// (a failed test, Ctrl-C, `go test -timeout`, SIGKILL). The harness starts a copy of the test
// binary in reaper mode with a pipe on its stdin. When the test binary dies, the kernel closes
// the pipe; the reaper then kills every process whose command line names the stack's folder
// (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok all do) and removes it.

const reaperEnv = "FLEDGE_STACK_REAPER_DIR"

func init() {
	if dir := os.Getenv(reaperEnv); dir != "" {
		runReaper(dir)
	}
}

func runReaper(dir string) {
	// A Ctrl-C reaches the whole process group; the reaper must outlive the test binary.
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	_, _ = io.Copy(io.Discard, os.Stdin)
	killProcessesNaming(dir)
	_ = os.RemoveAll(dir)
	os.Exit(0)
}

// startReaper starts the reaper for dir. Closing the returned pipe (or the death of this
// process) sets it off.
func startReaper(dir string) (*os.File, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the test binary for the reaper: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), reaperEnv+"="+dir)
	cmd.Stdin = r
	// No stdout or stderr: `go test` waits for every holder of its pipes to close them.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("start the reaper: %w", err)
	}
	r.Close()
	go func() { _ = cmd.Wait() }()
	return w, nil
}

// killProcessesNaming sends SIGKILL to every process whose command line contains dir.
func killProcessesNaming(dir string) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	needle := []byte(dir)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, needle) {
			continue
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}
