// Package install_test checks Fledge's installation manifests: config/ (kustomize), the Helm
// chart of config/helm/fledge and the monitoring of config/prometheus. The plain tests render
// them and read what comes out; the Ginkgo specs apply config/default to a real control plane
// and run the manager binary with nothing but the rights of its ServiceAccount.
package install_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"fledge.dev/fledge/test/cluster"
)

func TestInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the local stack: make test runs it, make test-unit does not")
	}
	RegisterFailHandler(Fail)
	// Everything here is asynchronous on a shared, sometimes busy machine: a wait that does
	// not say how long gets half a minute, not Gomega's one second.
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
	RunSpecs(t, "Install")
}

var (
	stack     *cluster.Cluster
	k8s       client.Client
	clientset *kubernetes.Clientset
	// work is the suite's folder inside the stack's, removed with it: the processes the
	// suite starts name it on their command line, so that the harness's reaper finds them.
	work string
	// managerBinary is cmd/manager, built by the suite.
	managerBinary string
)

var _ = BeforeSuite(func(ctx context.Context) {
	ctrl.SetLogger(zap.New(zap.WriteTo(GinkgoWriter)))

	// The binary the image ships, so that main.go's wiring (flags, leader election, the
	// metrics filter) is what runs, built as the Dockerfile builds it (imageBuild). It builds
	// while the control plane starts.
	dir, err := os.MkdirTemp("", "fledge-install-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, dir)
	managerBinary = filepath.Join(dir, "fledge-manager")
	built := cluster.BuildManager(managerBinary, imageBuild.env, imageBuild.flags...)

	stack, err = cluster.Start(ctx, cluster.Options{Workloads: true, Istio: true})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(stack.Stop)
	k8s = stack.Client
	clientset, err = kubernetes.NewForConfig(stack.Config)
	Expect(err).NotTo(HaveOccurred())
	work = filepath.Join(stack.Dir, "install")
	Expect(os.MkdirAll(work, 0o700)).To(Succeed())
	Eventually(built).WithContext(ctx).WithTimeout(9 * time.Minute).Should(Receive(Succeed()))
}, NodeTimeout(10*time.Minute))

// kubectl runs the pinned kubectl as the cluster's administrator, with stdin.
func kubectl(ctx context.Context, stdin []byte, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, stack.Assets.Kubectl(), append([]string{"--kubeconfig=" + stack.KubeconfigPath}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	// kubectl prints Pod Security and deprecation warnings on stderr.
	return stdout.String() + stderr.String(), nil
}

// serviceAccountToken asks the API server for a token of a ServiceAccount (TokenRequest),
// as the kubelet does for a pod.
func serviceAccountToken(ctx context.Context, namespace, name string) string {
	GinkgoHelper()
	token, err := stack.ServiceAccountToken(ctx, namespace, name)
	Expect(err).NotTo(HaveOccurred())
	return token
}
