package cluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Process is a program run next to envtest's etcd and kube-apiserver (the control plane's
// other parts, Prometheus, a manager); its output goes to a log file in dir. Give it a
// command line that names a file in the stack's folder, so that the reaper kills it with
// the control plane should the test binary die.
type Process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	err     error
}

// StartProcess runs path with args, logging to dir/name.log.
func StartProcess(dir, name, path string, args ...string) (*Process, error) {
	return StartProcessEnv(dir, name, path, nil, args...)
}

// StartProcessEnv is StartProcess with env added to the test's environment.
func StartProcessEnv(dir, name, path string, env []string, args ...string) (*Process, error) {
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// No KUBECONFIG of the developer's: a program must use the one it is given.
	cmd.Env = append(withoutEnv(os.Environ(), "KUBECONFIG"), env...)
	// A group of its own: a Ctrl-C reaches the test binary, which stops it in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{name: name, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.exited)
	}()
	return p, nil
}

// Running reports an error when the process has exited, with the end of its log.
func (p *Process) Running() error {
	select {
	case <-p.exited:
		return fmt.Errorf("%s exited (%v); the end of its log:\n%s", p.name, p.err, p.LogTail(30))
	default:
		return nil
	}
}

// Stop asks the process to end and kills it when it does not within the grace period.
func (p *Process) Stop(grace time.Duration) error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%s did not stop within %s of SIGTERM and was killed", p.name, grace)
	}
}

// Pid is the process's id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Log is everything the process wrote so far.
func (p *Process) Log() (string, error) {
	data, err := os.ReadFile(p.logPath)
	return string(data), err
}

// LogTail is the last lines of the log.
func (p *Process) LogTail(lines int) string {
	log, err := p.Log()
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(log, "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

func stopAll(procs []*Process, grace time.Duration) error {
	var errs []error
	// Reverse order: kwok and the scheduler go before the controller manager.
	for i := len(procs) - 1; i >= 0; i-- {
		errs = append(errs, procs[i].Stop(grace))
	}
	return errors.Join(errs...)
}

func withoutEnv(env []string, name string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// Kill kills the process at once (SIGKILL, as the OOM killer or a lost node would) and waits
// until it is gone.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// Freeze stops the process where it stands (SIGSTOP), as a long pause of the machine would;
// Thaw lets it go on.
func (p *Process) Freeze() error { return p.cmd.Process.Signal(syscall.SIGSTOP) }

// Thaw continues a frozen process (SIGCONT).
func (p *Process) Thaw() error { return p.cmd.Process.Signal(syscall.SIGCONT) }

// Exited is closed once the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }
