package chaos_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"fledge.dev/fledge/test/cluster"
)

// Lease timings of the suite's managers: short, so that a killed leader's lease passes in
// seconds, not the default 15.
const (
	leaseDuration = 4 * time.Second
	renewDeadline = 3 * time.Second
	retryPeriod   = time.Second
)

// replica is one manager process that a supervisor restarts when it dies, as the kubelet
// restarts a pod's container: each start has a log of its own.
type replica struct {
	name string

	mu      sync.Mutex
	proc    *cluster.Process
	starts  int
	killed  bool // the suite killed the current process
	stopped bool
	// exitAfter, when set, makes the next start kill itself after that many writes.
	exitAfter int
	// selfKills counts the processes that died after their N-th write; kills those the
	// suite killed.
	selfKills, kills int
	logs             []string
	// shards, when set, makes the replica share the Canaries in that many shards instead
	// of electing a leader.
	shards int
}

func startReplica(name string) *replica {
	GinkgoHelper()
	return startShardedReplica(name, 0)
}

// startShardedReplica starts a replica that shares the Canaries in shards (0: one leader).
func startShardedReplica(name string, shards int) *replica {
	GinkgoHelper()
	r := &replica{name: name, shards: shards}
	Expect(r.start()).To(Succeed())
	DeferCleanup(r.stop)
	return r
}

func (r *replica) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return nil
	}
	r.starts++
	logName := fmt.Sprintf("%s-%03d", r.name, r.starts)
	var env []string
	if r.exitAfter > 0 {
		env = append(env, fmt.Sprintf("FLEDGE_FAULT_EXIT_AFTER_WRITES=%d", r.exitAfter))
		r.exitAfter = 0
	}
	if *unfencedFlag {
		env = append(env, "FLEDGE_FAULT_UNFENCED=1")
	}
	proc, err := cluster.StartProcessEnv(work, logName, managerBinary, env,
		"--kubeconfig="+managerKubeconfig,
		"--leader-elect=true",
		fmt.Sprintf("--shards=%d", r.shards),
		"--leader-election-namespace="+cluster.ManagerNamespace,
		"--leader-election-lease-duration="+leaseDuration.String(),
		"--leader-election-renew-deadline="+renewDeadline.String(),
		"--leader-election-retry-period="+retryPeriod.String(),
		"--metrics-bind-address=0",
		"--health-probe-bind-address=0",
		"--prometheus-address="+prom.URL,
		"--slack-api-url="+slack.URL(),
		"--default-alert-provider="+alertNamespace+"/slack",
		"--cluster-name=chaos",
		"--notification-timeout=5m",
	)
	if err != nil {
		return err
	}
	r.proc, r.killed = proc, false
	r.logs = append(r.logs, work+"/"+logName+".log")
	go r.supervise(proc)
	return nil
}

// supervise restarts the replica when its process dies, after a short back-off.
func (r *replica) supervise(proc *cluster.Process) {
	<-proc.Exited()
	r.mu.Lock()
	if r.proc != proc || r.stopped {
		r.mu.Unlock()
		return
	}
	if !r.killed {
		r.selfKills++
	}
	r.mu.Unlock()
	time.Sleep(300 * time.Millisecond)
	_ = r.start()
}

// kill kills the running process (SIGKILL); with exitAfter > 0, the next process kills
// itself after that many writes.
func (r *replica) kill(exitAfter int) {
	r.mu.Lock()
	proc := r.proc
	r.killed, r.exitAfter = true, exitAfter
	r.kills++
	r.mu.Unlock()
	proc.Kill()
}

func (r *replica) current() *cluster.Process {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.proc
}

func (r *replica) stop() {
	r.mu.Lock()
	r.stopped = true
	proc := r.proc
	r.mu.Unlock()
	proc.Kill()
}

func (r *replica) counts() (starts, kills, selfKills int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.starts, r.kills, r.selfKills
}

// identity is the Lease identity of the replica's current process, from its log.
func (r *replica) identity() string {
	log, err := r.current().Log()
	if err != nil {
		return ""
	}
	if m := identityLine.FindStringSubmatch(log); m != nil {
		return m[1]
	}
	return ""
}

// leads reports whether the replica's current process holds the leader lease.
func (r *replica) leads(ctx context.Context) bool {
	id := r.identity()
	return id != "" && leaseHolder(ctx) == id
}

// identityLine is where a process logs the identity it holds Leases as: the leader's, or a
// sharded replica's.
var identityLine = regexp.MustCompile(`(?:candidate for the leader lease|sharing the Canaries).*"identity":\s*"([^"]+)"`)

// writesAfter lists the writes to the API server a process's log shows it started after t,
// leaving out the Leases' (the fault hook logs those apart: a leader that lost its lease still
// tries to renew, a sharded replica renews its Leases); with until, only those before the
// first line after t that contains it.
func writesAfter(logPath string, t time.Time, until string) ([]string, error) {
	f, err := os.Open(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	passed := false // a line logged after t was seen
	scan := bufio.NewScanner(f)
	scan.Buffer(make([]byte, 1<<20), 1<<20)
	for scan.Scan() {
		line := scan.Text()
		if passed && until != "" && strings.Contains(line, until) {
			break
		}
		// fledge-fault: lease TIME METHOD
		if lease := strings.Fields(strings.TrimPrefix(line, "fledge-fault: lease ")); strings.HasPrefix(line, "fledge-fault: lease ") && len(lease) == 2 {
			if at, err := time.Parse(time.RFC3339Nano, lease[0]); err == nil && at.After(t) {
				passed = true
			}
			continue
		}
		// fledge-fault: write N TIME METHOD PATH CODE
		fields := strings.Fields(strings.TrimPrefix(line, "fledge-fault: write "))
		if !strings.HasPrefix(line, "fledge-fault: write ") || len(fields) < 5 {
			continue
		}
		if at, err := time.Parse(time.RFC3339Nano, fields[1]); err != nil || !at.After(t) {
			continue
		}
		passed = true
		out = append(out, line)
	}
	return out, scan.Err()
}

// keepLogsOfAFailure copies the managers' logs out of the stack's folder, which goes with the
// suite, when the spec failed: the long profile runs for an hour, and its failures are rare.
func keepLogsOfAFailure() {
	if !CurrentSpecReport().Failed() {
		return
	}
	keep, err := os.MkdirTemp("", "fledge-chaos-logs-")
	if err != nil {
		GinkgoWriter.Printf("keep the managers' logs: %v\n", err)
		return
	}
	logs, _ := filepath.Glob(filepath.Join(work, "*.log"))
	for _, l := range logs {
		if data, err := os.ReadFile(l); err == nil {
			_ = os.WriteFile(filepath.Join(keep, filepath.Base(l)), data, 0o600)
		}
	}
	GinkgoWriter.Printf("the logs of %d manager processes are kept in %s\n", len(logs), keep)
	fmt.Printf("chaos: the logs of %d manager processes are kept in %s\n", len(logs), keep)
}
