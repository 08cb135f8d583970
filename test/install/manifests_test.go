package install_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"fledge.dev/fledge/test/cluster"
)

// The helpers of this file read the manifests of config/: the kustomize renders, the Helm
// chart's, and the objects in them.

// repoPath is the absolute path of a file of the repository.
func repoPath(parts ...string) (string, error) {
	root, err := cluster.RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(append([]string{root}, parts...)...), nil
}

// kubectlPath is the pinned kubectl of `make assets`, found as the test harness finds it.
func kubectlPath() (string, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		var err error
		if dir, err = repoPath("bin", "assets"); err != nil {
			return "", err
		}
	}
	path := filepath.Join(dir, "kubectl")
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("the pinned kubectl is missing (%w): run `make assets`", err)
	}
	return path, nil
}

// needsKubectl skips a test under -short: it renders with the pinned kubectl that `make
// assets` builds, which `make test` builds first and `make test-unit` does not.
func needsKubectl(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("renders with the pinned kubectl of make assets: make test runs it, make test-unit does not")
	}
}

// kustomize renders a kustomization of config/ (e.g. "default") with the pinned kubectl.
func kustomize(dir string) ([]byte, error) {
	kubectl, err := kubectlPath()
	if err != nil {
		return nil, err
	}
	path, err := repoPath("config", dir)
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd := exec.Command(kubectl, "kustomize", path)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("kubectl kustomize %s: %w: %s", path, err, stderr.String())
	}
	return out, nil
}

// strictDecoder decodes the built-in kinds and fails on fields those kinds do not have.
var strictDecoder = serializer.NewCodecFactory(clientgoscheme.Scheme, serializer.EnableStrict).UniversalDeserializer()

// checkSchema decodes each object into its Go type strictly, so that a misspelt or misplaced
// field fails here rather than being dropped by the API server. CRDs are left to the API
// server (the install specs apply them), and the Prometheus Operator's and cert-manager's
// kinds, whose Go types Fledge does not depend on, to checkMonitoringObject.
func checkSchema(objs []*unstructured.Unstructured) error {
	var errs []error
	for _, obj := range objs {
		gvk := obj.GroupVersionKind()
		switch {
		case gvk.Group == "monitoring.coreos.com" || gvk.Group == "cert-manager.io":
			errs = append(errs, checkMonitoringObject(obj))
		case gvk.Kind == "CustomResourceDefinition":
		case clientgoscheme.Scheme.Recognizes(gvk):
			data, err := obj.MarshalJSON()
			if err == nil {
				_, _, err = strictDecoder.Decode(data, nil, nil)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %s: %w", gvk.Kind, obj.GetName(), err))
			}
		default:
			errs = append(errs, fmt.Errorf("%s %s: unexpected kind", gvk, obj.GetName()))
		}
	}
	return errors.Join(errs...)
}

// The fields of the Prometheus Operator's kinds that config/ uses, to catch a misspelt one.
type serviceMonitor struct {
	Spec struct {
		JobLabel string `json:"jobLabel"`
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		Endpoints []struct {
			Port            string `json:"port"`
			Path            string `json:"path"`
			Scheme          string `json:"scheme"`
			Interval        string `json:"interval"`
			HonorLabels     bool   `json:"honorLabels"`
			BearerTokenFile string `json:"bearerTokenFile"`
			TLSConfig       struct {
				InsecureSkipVerify bool `json:"insecureSkipVerify"`
				CA                 struct {
					Secret struct {
						Name string `json:"name"`
						Key  string `json:"key"`
					} `json:"secret"`
				} `json:"ca"`
				ServerName string `json:"serverName"`
			} `json:"tlsConfig"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// The fields of cert-manager's kinds that the chart uses.
type certificate struct {
	Spec struct {
		SecretName string   `json:"secretName"`
		DNSNames   []string `json:"dnsNames"`
		IssuerRef  struct {
			Kind  string `json:"kind"`
			Name  string `json:"name"`
			Group string `json:"group"`
		} `json:"issuerRef"`
	} `json:"spec"`
}

type issuer struct {
	Spec struct {
		SelfSigned *struct{} `json:"selfSigned"`
	} `json:"spec"`
}

type prometheusRule struct {
	Spec ruleGroups `json:"spec"`
}

// ruleGroups is a Prometheus rule file, and the spec of a PrometheusRule.
type ruleGroups struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert       string            `json:"alert"`
			Record      string            `json:"record"`
			Expr        string            `json:"expr"`
			For         string            `json:"for"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

func checkMonitoringObject(obj *unstructured.Unstructured) error {
	spec, err := yaml.Marshal(map[string]any{"spec": obj.Object["spec"]})
	if err != nil {
		return err
	}
	switch obj.GetKind() {
	case "ServiceMonitor":
		err = yaml.UnmarshalStrict(spec, &serviceMonitor{})
	case "PrometheusRule":
		err = yaml.UnmarshalStrict(spec, &prometheusRule{})
	case "Certificate":
		err = yaml.UnmarshalStrict(spec, &certificate{})
	case "Issuer":
		err = yaml.UnmarshalStrict(spec, &issuer{})
	default:
		err = errors.New("unexpected kind")
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", obj.GetKind(), obj.GetName(), err)
	}
	return nil
}

// checkLeastPrivilege fails on what least privilege rules out: wildcards in a rule, the
// verbs that hand out more rights (escalate, bind, impersonate), and bindings to Kubernetes'
// broad roles.
func checkLeastPrivilege(objs []*unstructured.Unstructured) error {
	var errs []error
	for _, obj := range objs {
		switch obj.GetKind() {
		case "ClusterRole", "Role":
			var role rbacv1.ClusterRole
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &role); err != nil {
				return err
			}
			if role.AggregationRule != nil {
				errs = append(errs, fmt.Errorf("%s %s aggregates other roles: its rights cannot be read from config/", obj.GetKind(), obj.GetName()))
			}
			for _, r := range role.Rules {
				for _, list := range [][]string{r.Verbs, r.APIGroups, r.Resources, r.NonResourceURLs, r.ResourceNames} {
					if slices.ContainsFunc(list, func(s string) bool { return strings.Contains(s, "*") }) {
						errs = append(errs, fmt.Errorf("%s %s has a wildcard: %s", obj.GetKind(), obj.GetName(), r.String()))
					}
				}
				for _, v := range []string{"escalate", "bind", "impersonate"} {
					if slices.Contains(r.Verbs, v) {
						errs = append(errs, fmt.Errorf("%s %s grants %s: %s", obj.GetKind(), obj.GetName(), v, r.String()))
					}
				}
			}
		case "ClusterRoleBinding", "RoleBinding":
			name, _, _ := unstructured.NestedString(obj.Object, "roleRef", "name")
			if slices.Contains([]string{"cluster-admin", "admin", "edit", "view"}, name) || strings.HasPrefix(name, "system:") {
				errs = append(errs, fmt.Errorf("%s %s binds the broad role %s", obj.GetKind(), obj.GetName(), name))
			}
		}
	}
	return errors.Join(errs...)
}

// find returns the object of kind and name, or nil.
func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

// objectKeys lists "Kind namespace/name" of each object, sorted.
func objectKeys(objs []*unstructured.Unstructured) []string {
	keys := make([]string, 0, len(objs))
	for _, o := range objs {
		keys = append(keys, o.GetKind()+" "+o.GetNamespace()+"/"+o.GetName())
	}
	sort.Strings(keys)
	return keys
}

// rulesOf returns the rules of a Role or ClusterRole, one "group resource verb" (or "url
// verb") a line and sorted, so that two roles compare however their rules are grouped.
func rulesOf(obj *unstructured.Unstructured) ([]string, error) {
	var role rbacv1.ClusterRole
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &role); err != nil {
		return nil, err
	}
	var out []string
	for _, r := range role.Rules {
		for _, v := range r.Verbs {
			for _, u := range r.NonResourceURLs {
				out = append(out, u+" "+v)
			}
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					line := g + " " + res + " " + v
					if len(r.ResourceNames) > 0 {
						line += " " + strings.Join(r.ResourceNames, ",")
					}
					out = append(out, line)
				}
			}
		}
	}
	sort.Strings(out)
	return slices.Compact(out), nil
}

// containerArgs returns the flags of the manager container of a Deployment as name → value
// ("--leader-elect" is "true").
func containerArgs(deployment *unstructured.Unstructured) (map[string]string, error) {
	containers, _, err := unstructured.NestedSlice(deployment.Object, "spec", "template", "spec", "containers")
	if err != nil || len(containers) != 1 {
		return nil, fmt.Errorf("Deployment %s: want one container, got %d (%v)", deployment.GetName(), len(containers), err)
	}
	args, _, err := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
	if err != nil {
		return nil, err
	}
	flags := map[string]string{}
	for _, a := range args {
		name, value, ok := strings.Cut(a, "=")
		if !ok {
			value = "true"
		}
		flags[name] = value
	}
	return flags, nil
}
