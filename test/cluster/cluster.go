// Package cluster runs a real, local Kubernetes control plane for Fledge's test suites:
// etcd and kube-apiserver through controller-runtime's envtest, and, when a suite asks for
// workloads, kube-controller-manager, kube-scheduler and kwok with fake nodes, so that real
// Deployments roll out to Ready pods. Fledge's and Istio's CRDs are installed. Every process
// listens on loopback, lives in one temporary folder, and is stopped with the suite, also when
// the test binary is interrupted or killed.
package cluster

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"fledge.dev/fledge/apis"
)

// AdminUser is the user name of Cluster.Config, the stack's administrator: a manual request
// sent with it must name it (the status-requests admission policy holds administrators too).
const AdminUser = "fledge-test-admin"

// Options say what a suite needs.
type Options struct {
	// Workloads starts kube-controller-manager, kube-scheduler and kwok with fake nodes, so that
	// Deployments roll out to Ready pods. Without it, only etcd and kube-apiserver run.
	Workloads bool

	// Nodes is the number of fake nodes when Workloads is set (3 when zero).
	Nodes int

	// Istio runs istiod with its validating webhook, so that the API server refuses what a
	// real Istio refuses.
	Istio bool

	// Install is the overlay of config/ whose rights ManagerConfig installs: "default" when
	// empty, or "namespaced", whose manager has rights in WatchedNamespace only.
	Install string
}

// Cluster is a running local control plane.
type Cluster struct {
	// Config reaches the API server as a cluster administrator.
	Config *rest.Config
	// Client is an uncached client with Scheme, for test assertions.
	Client client.Client
	// Scheme knows the Kubernetes, Fledge and Istio networking kinds.
	Scheme *runtime.Scheme
	// KubeconfigPath is an administrator kubeconfig file, for kubectl and other programs.
	KubeconfigPath string
	// Dir is the stack's temporary folder; it holds the logs of every process.
	Dir string
	// Assets are the pinned binaries the stack runs.
	Assets Assets
	// IstiodXDSAddress is where istiod serves xDS in plain text, when Options.Istio is set.
	IstiodXDSAddress string

	env     *envtest.Environment
	install string
	logs    []*os.File
	// managerConfig is the manager's identity, made on first use (ManagerConfig).
	managerMu       sync.Mutex
	managerConfig   *rest.Config
	managerWarnings warnings
	procs           []*Process
	istiod          *Process
	reaper          *os.File
}

// Start starts a control plane as opts ask. Stop it with Stop (Ginkgo: DeferCleanup).
func Start(ctx context.Context, opts Options) (c *Cluster, err error) {
	assets, err := findAssets()
	if err != nil {
		return nil, err
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "fledge-stack-")
	if err != nil {
		return nil, err
	}
	c = &Cluster{Dir: dir, Assets: assets, Scheme: apis.NewScheme(), install: cmp.Or(opts.Install, "default")}
	if c.reaper, err = startReaper(dir); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Stop())
		}
	}()

	if err := c.startAPIServer(root); err != nil {
		return c, err
	}
	if opts.Istio {
		if err := c.startIstiod(ctx); err != nil {
			return c, err
		}
	}
	if opts.Workloads {
		nodes := opts.Nodes
		if nodes == 0 {
			nodes = 3
		}
		if err := c.startWorkloadControllers(); err != nil {
			return c, err
		}
		if err := c.createNodes(ctx, nodes); err != nil {
			return c, errors.Join(err, c.processesRunning())
		}
	}
	return c, nil
}

func (c *Cluster) startAPIServer(root string) error {
	etcdLog, err := c.logFile("etcd.log")
	if err != nil {
		return err
	}
	apiLog, err := c.logFile("kube-apiserver.log")
	if err != nil {
		return err
	}
	// Folders inside the stack's folder, so that the reaper finds these processes by name.
	etcdDir, certDir := filepath.Join(c.Dir, "etcd"), filepath.Join(c.Dir, "kube-apiserver")
	for _, d := range []string{etcdDir, certDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	etcd := &envtest.Etcd{DataDir: etcdDir, Out: etcdLog, Err: etcdLog}
	apiServer := &envtest.APIServer{CertDir: certDir, Out: apiLog, Err: apiLog}
	// Room for thousands of Services (the default /24 holds 254).
	apiServer.Configure().Set("service-cluster-ip-range", "10.96.0.0/16")

	c.env = &envtest.Environment{
		Scheme:                   c.Scheme,
		BinaryAssetsDirectory:    c.Assets.Dir,
		CRDDirectoryPaths:        []string{filepath.Join(root, "config", "crd", "bases"), c.Assets.Path(assetIstioCRDs)},
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: 2 * time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
	}
	c.env.ControlPlane.Etcd = etcd
	c.env.ControlPlane.APIServer = apiServer
	if _, err := c.env.Start(); err != nil {
		return fmt.Errorf("start etcd and kube-apiserver (logs in %s): %w", c.Dir, err)
	}

	// An administrator identity of our own, so that its kubeconfig can be handed to programs.
	admin, err := c.env.AddUser(envtest.User{Name: AdminUser, Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("provision the administrator: %w", err)
	}
	c.Config = admin.Config()
	kubeconfig, err := admin.KubeConfig()
	if err != nil {
		return err
	}
	c.KubeconfigPath = filepath.Join(c.Dir, "kubeconfig")
	if err := os.WriteFile(c.KubeconfigPath, kubeconfig, 0o600); err != nil {
		return err
	}
	c.Client, err = client.New(c.Config, client.Options{Scheme: c.Scheme})
	return err
}

// startWorkloadControllers starts the controllers that turn Deployments into Ready pods:
// kube-controller-manager, kube-scheduler, and kwok standing in for kubelets.
func (c *Cluster) startWorkloadControllers() error {
	kcm, err := StartProcess(c.Dir, "kube-controller-manager", c.Assets.Path(assetControllerManager),
		"--kubeconfig="+c.KubeconfigPath,
		"--controllers="+workloadControllers,
		"--leader-elect=false",
		"--secure-port=0",
		"--bind-address=127.0.0.1",
		"--use-service-account-credentials=false",
		// Tests and benchmarks create many objects at once: no client-side throttling.
		"--kube-api-qps=500",
		"--kube-api-burst=1000",
		"--concurrent-deployment-syncs=20",
		"--concurrent-replicaset-syncs=20",
	)
	if err != nil {
		return err
	}
	c.procs = append(c.procs, kcm)

	schedulerConfig := filepath.Join(c.Dir, "kube-scheduler.yaml")
	if err := os.WriteFile(schedulerConfig, []byte(fmt.Sprintf(schedulerConfigTemplate, c.KubeconfigPath)), 0o600); err != nil {
		return err
	}
	scheduler, err := StartProcess(c.Dir, "kube-scheduler", c.Assets.Path(assetScheduler),
		"--config="+schedulerConfig,
		"--secure-port=0",
		"--bind-address=127.0.0.1",
	)
	if err != nil {
		return err
	}
	c.procs = append(c.procs, scheduler)

	kwok, err := StartProcess(c.Dir, "kwok", c.Assets.Path(assetKwok),
		"--kubeconfig="+c.KubeconfigPath,
		"--config="+c.Assets.Path(assetKwokStages),
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector="+fakeNodeAnnotation+"=fake",
		"--cidr=10.244.0.0/16",
		"--node-ip=127.0.0.1",
	)
	if err != nil {
		return err
	}
	c.procs = append(c.procs, kwok)
	return nil
}

// The kube-controller-manager controllers that Deployments, Services and namespaces need.
// Since Kubernetes 1.36 their names end in -controller.
const workloadControllers = "deployment-controller,replicaset-controller,garbage-collector-controller," +
	"namespace-controller,endpointslice-controller,endpointslice-mirroring-controller," +
	"horizontal-pod-autoscaler-controller,serviceaccount-controller"

const schedulerConfigTemplate = `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: %q
  qps: 500
  burst: 1000
leaderElection:
  leaderElect: false
`

// processesRunning reports each harness process that has exited, with its log.
func (c *Cluster) processesRunning() error {
	var errs []error
	for _, p := range c.procs {
		errs = append(errs, p.Running())
	}
	return errors.Join(errs...)
}

func (c *Cluster) logFile(name string) (*os.File, error) {
	f, err := os.Create(filepath.Join(c.Dir, name))
	if err != nil {
		return nil, err
	}
	c.logs = append(c.logs, f)
	return f, nil
}

// Stop stops every process of the stack and removes its folder. It is safe to call twice.
func (c *Cluster) Stop() error {
	var errs []error
	if c.procs != nil {
		errs = append(errs, stopAll(c.procs, 10*time.Second))
		c.procs = nil
	}
	if c.env != nil {
		if err := c.env.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop etcd and kube-apiserver: %w", err))
		}
		c.env = nil
	}
	for _, f := range c.logs {
		_ = f.Close()
	}
	c.logs = nil
	if c.reaper != nil {
		// The reaper kills whatever is left and removes the folder.
		_ = c.reaper.Close()
		c.reaper = nil
	}
	return errors.Join(errs...)
}
