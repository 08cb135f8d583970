package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
	"k8s.io/apimachinery/pkg/util/wait"
)

// PrometheusOptions say what a test Prometheus scrapes.
type PrometheusOptions struct {
	// Targets are host:port addresses serving /metrics.
	Targets []string
	// ScrapeInterval is how often they are scraped (1s when zero).
	ScrapeInterval time.Duration
	// Username and Password, when set, protect the HTTP API with basic auth.
	Username, Password string
}

// Prometheus is a real Prometheus server on a loopback port, with its data in a temporary
// folder; like the control plane, it is killed if the test binary dies.
type Prometheus struct {
	// URL of its HTTP API.
	URL string
	// Dir holds its configuration, data and log.
	Dir string

	proc   *Process
	reaper *os.File
}

// StartPrometheus starts the pinned Prometheus of the assets folder and waits until it is
// ready.
func StartPrometheus(ctx context.Context, opts PrometheusOptions) (p *Prometheus, err error) {
	assets, err := findAssets()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "fledge-prometheus-")
	if err != nil {
		return nil, err
	}
	p = &Prometheus{Dir: dir}
	if p.reaper, err = startReaper(dir); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, p.Stop())
		}
	}()

	interval := opts.ScrapeInterval
	if interval == 0 {
		interval = time.Second
	}
	var targets []string
	for _, t := range opts.Targets {
		targets = append(targets, fmt.Sprintf("%q", t))
	}
	config := fmt.Sprintf(`global:
  scrape_interval: %s
  evaluation_interval: %s
scrape_configs:
- job_name: mesh
  static_configs:
  - targets: [%s]
`, interval, interval, strings.Join(targets, ", "))
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o600); err != nil {
		return p, err
	}
	args := []string{
		"--config.file=" + filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--log.level=warn",
	}
	if opts.Username != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(opts.Password), bcrypt.MinCost)
		if err != nil {
			return p, err
		}
		web := fmt.Sprintf("basic_auth_users:\n  %s: %s\n", opts.Username, hash)
		if err := os.WriteFile(filepath.Join(dir, "web.yml"), []byte(web), 0o600); err != nil {
			return p, err
		}
		args = append(args, "--web.config.file="+filepath.Join(dir, "web.yml"))
	}
	port, err := freePort()
	if err != nil {
		return p, err
	}
	p.URL = fmt.Sprintf("http://127.0.0.1:%d", port)
	args = append(args, fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port))

	if p.proc, err = StartProcess(dir, "prometheus", assets.Path(assetPrometheus), args...); err != nil {
		return p, err
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := p.proc.Running(); err != nil {
			return false, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/-/ready", nil)
		if err != nil {
			return false, err
		}
		req.SetBasicAuth(opts.Username, opts.Password)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		return p, fmt.Errorf("wait for Prometheus to be ready (log in %s): %w", dir, err)
	}
	return p, nil
}

// Stop stops Prometheus and removes its folder.
func (p *Prometheus) Stop() error {
	var err error
	if p.proc != nil {
		err = p.proc.Stop(10 * time.Second)
		p.proc = nil
	}
	if p.reaper != nil {
		_ = p.reaper.Close()
		p.reaper = nil
	}
	return err
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
