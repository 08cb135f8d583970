package cluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Assets are the files of the pinned local control plane that `make assets` builds.
type Assets struct {
	// Dir is the folder that holds them all; envtest reads it as KUBEBUILDER_ASSETS.
	Dir string
}

// The names of the files in the assets folder.
const (
	assetControllerManager = "kube-controller-manager"
	assetScheduler         = "kube-scheduler"
	assetKubectl           = "kubectl"
	assetKwok              = "kwok"
	assetKwokStages        = "kwok-stages.yaml"
	assetIstioCRDs         = "istio-crds.yaml"
	assetPrometheus        = "prometheus"
	assetIstiod            = "pilot-discovery"
	assetIstioctl          = "istioctl"
)

// Path is the path of one asset.
func (a Assets) Path(name string) string { return filepath.Join(a.Dir, name) }

// Istioctl is the path of the pinned istioctl.
func (a Assets) Istioctl() string { return a.Path(assetIstioctl) }

// Kubectl is the path of the pinned kubectl.
func (a Assets) Kubectl() string { return a.Path(assetKubectl) }

// findAssets locates the assets folder: KUBEBUILDER_ASSETS when set, else bin/assets at the
// repository root. It fails with a message that says how to build them.
func findAssets() (Assets, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		root, err := RepoRoot()
		if err != nil {
			return Assets{}, err
		}
		dir = filepath.Join(root, "bin", "assets")
	}
	var missing []string
	for _, name := range []string{"kube-apiserver", "etcd", assetControllerManager, assetScheduler, assetKubectl, assetKwok, assetKwokStages, assetIstioCRDs, assetPrometheus, assetIstiod, assetIstioctl} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return Assets{}, fmt.Errorf("the local control plane in %s lacks %s: run `make assets` (or `make test`, which builds it first)", dir, strings.Join(missing, ", "))
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Assets{}, err
	}
	return Assets{Dir: abs}, nil
}

// RepoRoot is the folder of Fledge's go.mod, found by walking up from the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(data), "module fledge.dev/fledge\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the Fledge repository root (go.mod of fledge.dev/fledge) above the working directory")
		}
		dir = parent
	}
}
