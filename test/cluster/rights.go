package cluster

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/transport"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// The manager's identity as config/default installs it.
const (
	ManagerNamespace      = "fledge-system"
	ManagerServiceAccount = "fledge-manager"
	ManagerUser           = "system:serviceaccount:" + ManagerNamespace + ":" + ManagerServiceAccount
)

// WatchedNamespace is the one namespace of config/namespaced's manager.
const WatchedNamespace = "apps"

// harnessFieldManager owns what the harness applies, apart from what a suite applies itself.
const harnessFieldManager = "fledge-test-harness"

// ManagerConfig reaches the API server as the manager's ServiceAccount, with a token of it, as
// in the manager's pod: RBAC and the admission policies judge it as they judge the installed
// manager. The first call installs config/default (or the overlay of Options.Install), all but
// its CRDs (installed already) and its Deployment (the suites run the manager themselves),
// from the files a user applies.
// Every suite that runs the manager runs it with this identity, never the administrator's.
func (c *Cluster) ManagerConfig(ctx context.Context) (*rest.Config, error) {
	c.managerMu.Lock()
	defer c.managerMu.Unlock()
	if c.managerConfig != nil {
		return rest.CopyConfig(c.managerConfig), nil
	}
	if err := c.installManagerRights(ctx); err != nil {
		return nil, err
	}
	token, err := c.ServiceAccountToken(ctx, ManagerNamespace, ManagerServiceAccount)
	if err != nil {
		return nil, err
	}
	// The administrator's connection (address, CA, rate limits) without its credentials.
	cfg := rest.AnonymousClientConfig(c.Config)
	cfg.BearerToken = token
	cfg.WarningHandler = &c.managerWarnings
	if err := waitForManagerRights(ctx, cfg, c.probeNamespace()); err != nil {
		return nil, err
	}
	if err := c.waitForStatusPolicy(ctx); err != nil {
		return nil, err
	}
	c.managerConfig = cfg
	return rest.CopyConfig(cfg), nil
}

// TakeManagerWarnings returns, and forgets, the warnings the API server sent the managers
// made with ManagerConfig since the last call: its own (a deprecated API) and those of the
// admission webhooks behind it, istiod's among them (a route Istio accepts but warns about).
func (c *Cluster) TakeManagerWarnings() []string { return c.managerWarnings.take() }

// warnings records the warnings an API client receives.
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeader(code int, agent, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	list := w.list
	w.list = nil
	return list
}

// ManagerKubeconfig is a kubeconfig file with the identity of ManagerConfig, for the manager
// binary. It lies in the stack's folder, so that the reaper finds a manager that names it.
func (c *Cluster) ManagerKubeconfig(ctx context.Context) (string, error) {
	cfg, err := c.ManagerConfig(ctx)
	if err != nil {
		return "", err
	}
	path := filepath.Join(c.Dir, "manager.kubeconfig")
	return path, WriteTokenKubeconfig(path, cfg)
}

// NewManager makes a controller-runtime manager for Fledge's controllers, as cmd/manager
// does, with the manager's own identity. opts.Scheme defaults to the stack's. Each of wrap
// wraps its connection (a spec that counts what the manager sends).
func (c *Cluster) NewManager(ctx context.Context, opts ctrl.Options, wrap ...transport.WrapperFunc) (ctrl.Manager, error) {
	cfg, err := c.ManagerConfig(ctx)
	if err != nil {
		return nil, err
	}
	if len(wrap) > 0 {
		cfg = rest.CopyConfig(cfg)
		for _, w := range wrap {
			cfg.Wrap(w)
		}
	}
	if opts.Scheme == nil {
		opts.Scheme = c.Scheme
	}
	return ctrl.NewManager(cfg, opts)
}

// WriteTokenKubeconfig writes a kubeconfig that reaches cfg's server with cfg's bearer token
// and nothing else: no client certificate, no impersonation.
func WriteTokenKubeconfig(path string, cfg *rest.Config) error {
	server := cfg.Host
	if !strings.Contains(server, "://") {
		server = "https://" + server
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["local"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["token"] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts["token"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "token"}
	kc.CurrentContext = "token"
	return clientcmd.WriteToFile(*kc, path)
}

// ServiceAccountToken asks the API server for a token of a ServiceAccount (TokenRequest), as
// the kubelet does for a pod.
func (c *Cluster) ServiceAccountToken(ctx context.Context, namespace, name string) (string, error) {
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return "", err
	}
	// Longer than any suite runs.
	tr, err := cs.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](24 * 3600)},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("a token for ServiceAccount %s/%s: %w", namespace, name, err)
	}
	return tr.Status.Token, nil
}

// EnabledNamespace is a namespace an administrator has enabled for Fledge
// (fledgev1alpha1.LabelNamespaceEnabled), as every namespace must be where a Canary runs.
func EnabledNamespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{fledgev1alpha1.LabelNamespaceEnabled: "true"}}}
}

// installManagerRights applies config/default as a user does (kubectl apply --server-side of
// kubectl kustomize), less the CRDs and the manager's Deployment.
func (c *Cluster) installManagerRights(ctx context.Context) error {
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	if c.install == "namespaced" {
		// Its RoleBinding goes into the namespace it watches, which its user makes.
		ns := EnabledNamespace(WatchedNamespace)
		if err := c.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	rendered, err := c.kubectl(ctx, nil, "kustomize", filepath.Join(root, "config", c.install))
	if err != nil {
		return err
	}
	objs, err := DecodeObjects(rendered)
	if err != nil {
		return fmt.Errorf("read config/%s: %w", c.install, err)
	}
	var keep bytes.Buffer
	for _, obj := range objs {
		switch obj.GetKind() {
		case "CustomResourceDefinition", "Deployment":
			continue
		}
		data, err := yaml.Marshal(obj.Object)
		if err != nil {
			return err
		}
		keep.WriteString("---\n")
		keep.Write(data)
	}
	// Forced: a suite that applied config/default itself (the install suite) co-owns these.
	if _, err := c.kubectl(ctx, keep.Bytes(), "apply", "--server-side", "--force-conflicts", "--field-manager="+harnessFieldManager, "-f", "-"); err != nil {
		return fmt.Errorf("install the manager's rights from config/%s: %w", c.install, err)
	}
	return nil
}

// probeNamespace is where the manager's rights are probed: a namespace it acts in.
func (c *Cluster) probeNamespace() string {
	if c.install == "namespaced" {
		return WatchedNamespace
	}
	return ManagerNamespace
}

// waitForManagerRights waits until RBAC and the admission policy, which reach the API
// server's authorizer and admission through informers, judge the manager as installed.
func waitForManagerRights(ctx context.Context, cfg *rest.Config, namespace string) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return err
	}
	var last error
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		last = managerRightsInForce(ctx, cs, c, namespace)
		return last == nil, nil
	})
	if err != nil {
		return fmt.Errorf("the manager's rights from config/default are not in force after a minute (%w): %v", err, last)
	}
	return nil
}

func managerRightsInForce(ctx context.Context, cs kubernetes.Interface, c client.Client, namespace string) error {
	review, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: namespace, Group: "fledge.dev", Resource: "canaries", Verb: "watch",
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	if !review.Status.Allowed {
		return errors.New("RBAC does not yet let the manager watch canaries")
	}
	probe := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, GenerateName: "probe-"}}
	err = c.Create(ctx, probe, client.DryRunAll)
	if err == nil || !strings.Contains(err.Error(), "-manager-writes' with binding") {
		return fmt.Errorf("the admission policy does not yet hold the manager to its own ConfigMaps (a write of another was answered %v)", err)
	}
	return nil
}

// ClientAs is a client that acts as user, authenticated (the administrator impersonates them):
// the rights RBAC gives that user, and the admission policies that apply to them.
func (c *Cluster) ClientAs(user string) (client.Client, error) {
	cfg := rest.CopyConfig(c.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:authenticated"}}
	return client.New(cfg, client.Options{Scheme: c.Scheme})
}

// waitForStatusPolicy waits until the admission policy that holds everyone but the manager to
// status.request refuses a forged status: a probe Canary, which no manager has seen yet, has
// its phase written by the administrator (dry run) until that is refused, then goes.
func (c *Cluster) waitForStatusPolicy(ctx context.Context) error {
	probe := &fledgev1alpha1.Canary{
		ObjectMeta: metav1.ObjectMeta{Namespace: c.probeNamespace(), Name: "status-policy-probe"},
		Spec: fledgev1alpha1.CanarySpec{
			TargetRef: fledgev1alpha1.TargetRef{Name: "status-policy-probe"},
			Service:   fledgev1alpha1.CanaryService{Port: 80},
		},
	}
	if err := c.Client.Create(ctx, probe); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create a Canary to probe the status-requests policy: %w", err)
	}
	defer func() { _ = c.Client.Delete(context.WithoutCancel(ctx), probe) }()
	var last error
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		forged := probe.DeepCopy()
		forged.Status.Phase = fledgev1alpha1.PhaseSucceeded
		last = c.Client.Status().Patch(ctx, forged, client.MergeFrom(probe), client.DryRunAll)
		return last != nil && strings.Contains(last.Error(), "only the Fledge manager writes a Canary's status"), nil
	})
	if err != nil {
		return fmt.Errorf("the status-requests admission policy of config/%s is not in force after a minute (%w): a forged status was answered %v", c.install, err, last)
	}
	return nil
}

// kubectl runs the pinned kubectl as the administrator, with stdin.
func (c *Cluster) kubectl(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, c.Assets.Kubectl(), append([]string{"--kubeconfig=" + c.KubeconfigPath}, args...)...)
	cmd.Env = withoutEnv(os.Environ(), "KUBECONFIG")
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// DecodeObjects parses a multi-document YAML stream into objects, skipping empty documents.
func DecodeObjects(data []byte) ([]*unstructured.Unstructured, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []*unstructured.Unstructured
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		} else if err != nil {
			return nil, err
		}
		m := map[string]any{}
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return nil, fmt.Errorf("%w in:\n%s", err, doc)
		}
		if len(m) == 0 {
			continue
		}
		obj := &unstructured.Unstructured{Object: m}
		if obj.GetAPIVersion() == "" || obj.GetKind() == "" || obj.GetName() == "" {
			return nil, fmt.Errorf("not a Kubernetes object (apiVersion, kind and metadata.name): %s", doc)
		}
		objs = append(objs, obj)
	}
}
