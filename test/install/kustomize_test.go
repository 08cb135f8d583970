package install_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"fledge.dev/fledge/test/cluster"
)

// These tests read the kustomize renders of config/ (with the pinned kubectl); the install
// specs apply config/default to an API server and run the manager with its rights.

func TestKustomizeDefault(t *testing.T) {
	needsKubectl(t)
	g := NewWithT(t)
	rendered, err := kustomize("default")
	g.Expect(err).NotTo(HaveOccurred())
	objs, err := cluster.DecodeObjects(rendered)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(checkSchema(objs)).To(Succeed())
	g.Expect(checkLeastPrivilege(objs)).To(Succeed())
	g.Expect(objectKeys(objs)).To(ConsistOf(
		"Namespace /fledge-system",
		"CustomResourceDefinition /alertproviders.fledge.dev",
		"CustomResourceDefinition /canaries.fledge.dev",
		"CustomResourceDefinition /metrictemplates.fledge.dev",
		"ServiceAccount fledge-system/fledge-manager",
		"ClusterRole /fledge-manager",
		"ClusterRoleBinding /fledge-manager",
		"Role fledge-system/fledge-leader-election",
		"RoleBinding fledge-system/fledge-leader-election",
		"ClusterRole /fledge-metrics-auth",
		"ClusterRoleBinding /fledge-metrics-auth",
		"ClusterRole /fledge-metrics-reader",
		"ClusterRole /fledge-edit",
		"ClusterRole /fledge-view",
		"ClusterRole /fledge-operator",
		"ValidatingAdmissionPolicy /fledge-manager-writes",
		"ValidatingAdmissionPolicyBinding /fledge-manager-writes",
		"ValidatingAdmissionPolicy /fledge-status-requests",
		"ValidatingAdmissionPolicyBinding /fledge-status-requests",
		"Service fledge-system/fledge-metrics",
		"Deployment fledge-system/fledge-manager",
	))
	// Every binding names a role of the render and the manager's ServiceAccount.
	bindings := 0
	for _, o := range objs {
		if o.GetKind() != "ClusterRoleBinding" && o.GetKind() != "RoleBinding" {
			continue
		}
		bindings++
		kind, _, _ := unstructured.NestedString(o.Object, "roleRef", "kind")
		name, _, _ := unstructured.NestedString(o.Object, "roleRef", "name")
		g.Expect(find(objs, kind, name)).NotTo(BeNil(), "%s %s binds %s %s, which config/default lacks", o.GetKind(), o.GetName(), kind, name)
		g.Expect(o.Object["subjects"]).To(ConsistOf(map[string]any{"kind": "ServiceAccount", "name": "fledge-manager", "namespace": "fledge-system"}), o.GetName())
	}
	g.Expect(bindings).To(Equal(3), "the manager's, the leader election's and the metrics review's bindings")
	d := find(objs, "Deployment", "fledge-manager")
	sa, _, _ := unstructured.NestedString(d.Object, "spec", "template", "spec", "serviceAccountName")
	g.Expect(sa).To(Equal("fledge-manager"))

	// The admission policies name the manager's ServiceAccount in a CEL string that kustomize
	// does not rewrite: it must be the one the render holds, or a policy would hold nobody
	// (manager-writes) or the manager too (status-requests).
	manager := "system:serviceaccount:fledge-system:fledge-manager"
	g.Expect(policyUser(g, objs, "-manager-writes", "==")).To(Equal(manager))
	g.Expect(policyUser(g, objs, "-status-requests", "!=")).To(Equal(manager))
	for _, name := range []string{"fledge-manager-writes", "fledge-status-requests"} {
		binding := find(objs, "ValidatingAdmissionPolicyBinding", name)
		g.Expect(binding.Object["spec"]).To(HaveKeyWithValue("policyName", name))
	}
}

// withoutMetricsCertificate is the manager's Deployment less the certificate config/prometheus
// mounts: the flag, the mount and the volume, each exactly as it adds them.
func withoutMetricsCertificate(g Gomega, d *unstructured.Unstructured) *unstructured.Unstructured {
	d = d.DeepCopy()
	pod := d.Object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	g.Expect(pod["volumes"]).To(Equal([]any{map[string]any{"name": "metrics-cert", "secret": map[string]any{"secretName": "fledge-metrics-cert"}}}))
	delete(pod, "volumes")
	container := pod["containers"].([]any)[0].(map[string]any)
	g.Expect(container["volumeMounts"]).To(Equal([]any{map[string]any{"name": "metrics-cert", "mountPath": "/etc/fledge/metrics-cert", "readOnly": true}}))
	delete(container, "volumeMounts")
	args := container["args"].([]any)
	g.Expect(args[len(args)-1]).To(Equal("--metrics-cert-dir=/etc/fledge/metrics-cert"))
	container["args"] = args[:len(args)-1]
	return d
}

// policyUser returns the user an admission policy, named with suffix, tells apart with op
// (== for the manager-writes policy, which holds the manager; != for the status-requests
// one, which holds everyone else).
func policyUser(g Gomega, objs []*unstructured.Unstructured, suffix, op string) string {
	var policy *unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "ValidatingAdmissionPolicy" && strings.HasSuffix(o.GetName(), suffix) {
			policy = o
		}
	}
	g.Expect(policy).NotTo(BeNil(), "no policy %s", suffix)
	conditions, _, _ := unstructured.NestedSlice(policy.Object, "spec", "matchConditions")
	g.Expect(conditions).To(HaveLen(1))
	username := regexp.MustCompile(`^request\.userInfo\.username ` + regexp.QuoteMeta(op) + ` '(system:serviceaccount:[^']+)'$`)
	m := username.FindStringSubmatch(conditions[0].(map[string]any)["expression"].(string))
	g.Expect(m).NotTo(BeNil(), "the %s policy tells no single user apart", suffix)
	return m[1]
}

// config/monitoring is config/default with config/prometheus: the same objects, unchanged,
// and the monitoring ones.
func TestKustomizeMonitoring(t *testing.T) {
	needsKubectl(t)
	g := NewWithT(t)
	rendered, err := kustomize("default")
	g.Expect(err).NotTo(HaveOccurred())
	base, err := cluster.DecodeObjects(rendered)
	g.Expect(err).NotTo(HaveOccurred())
	rendered, err = kustomize("monitoring")
	g.Expect(err).NotTo(HaveOccurred())
	objs, err := cluster.DecodeObjects(rendered)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(checkSchema(objs)).To(Succeed())
	g.Expect(checkLeastPrivilege(objs)).To(Succeed())

	var added []*unstructured.Unstructured
	for _, o := range objs {
		b := find(base, o.GetKind(), o.GetName())
		if b == nil {
			added = append(added, o)
			continue
		}
		if o.GetKind() == "Deployment" {
			// The one change: the manager serves the certificate Prometheus verifies.
			o = withoutMetricsCertificate(g, o)
		}
		g.Expect(o.Object).To(Equal(b.Object), "%s %s differs from config/default's", o.GetKind(), o.GetName())
	}
	g.Expect(objectKeys(objs)).To(HaveLen(len(base) + len(added)))
	g.Expect(objectKeys(added)).To(ConsistOf(
		"ServiceMonitor fledge-system/fledge-metrics",
		"PrometheusRule fledge-system/fledge-alerts",
		"ConfigMap fledge-system/fledge-dashboard",
		"ClusterRoleBinding /fledge-metrics-reader",
		"Issuer fledge-system/fledge-selfsigned",
		"Certificate fledge-system/fledge-metrics",
	))

	// The certificate's names, which kustomize does not rewrite, are the render's.
	cert := find(objs, "Certificate", "fledge-metrics")
	g.Expect(cert.Object["spec"]).To(And(HaveKeyWithValue("secretName", "fledge-metrics-cert"),
		HaveKeyWithValue("issuerRef", HaveKeyWithValue("name", find(objs, "Issuer", "fledge-selfsigned").GetName())),
		HaveKeyWithValue("dnsNames", ContainElement(find(objs, "Service", "fledge-metrics").GetName()+".fledge-system.svc"))))

	// The ServiceMonitor selects the metrics Service, on the port it serves.
	sm := find(objs, "ServiceMonitor", "fledge-metrics")
	selector, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	svc := find(objs, "Service", "fledge-metrics")
	g.Expect(svc.GetLabels()).To(gstruct(selector))
	endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	g.Expect(endpoints).To(HaveLen(1))
	g.Expect(ports).To(ContainElement(HaveKeyWithValue("name", endpoints[0].(map[string]any)["port"])))
	// job="fledge", which the alerts and the dashboard select on, comes from this label.
	jobLabel, _, _ := unstructured.NestedString(sm.Object, "spec", "jobLabel")
	g.Expect(svc.GetLabels()).To(HaveKeyWithValue(jobLabel, "fledge"))

	binding := find(objs, "ClusterRoleBinding", "fledge-metrics-reader")
	g.Expect(binding.Object["roleRef"]).To(HaveKeyWithValue("name", "fledge-metrics-reader"))

	dashboard := find(objs, "ConfigMap", "fledge-dashboard")
	data, _, _ := unstructured.NestedStringMap(dashboard.Object, "data")
	var parsed map[string]any
	g.Expect(json.Unmarshal([]byte(data["fledge.json"]), &parsed)).To(Succeed())
	g.Expect(parsed).To(HaveKeyWithValue("uid", "fledge"))
}

// config/namespaced is config/default held to the namespace apps: the manager's rule set is
// a Role there alone (no ClusterRole), it watches apps alone, and its status policy judges apps alone; the
// chart with watchNamespaces: [apps] renders the same rights and settings.
func TestKustomizeNamespaced(t *testing.T) {
	needsKubectl(t)
	g := NewWithT(t)
	rendered, err := kustomize("namespaced")
	g.Expect(err).NotTo(HaveOccurred())
	objs, err := cluster.DecodeObjects(rendered)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(checkSchema(objs)).To(Succeed())
	g.Expect(checkLeastPrivilege(objs)).To(Succeed())
	g.Expect(find(objs, "ClusterRoleBinding", "fledge-manager")).To(BeNil(), "no rights outside the watched namespaces")
	g.Expect(find(objs, "ClusterRole", "fledge-manager")).To(BeNil(), "Roles only")
	generated, err := readObjects("config", "rbac", "role.yaml")
	g.Expect(err).NotTo(HaveOccurred())
	want, err := rulesOf(generated[0])
	g.Expect(err).NotTo(HaveOccurred())
	role := find(objs, "Role", "fledge-manager")
	g.Expect(role).NotTo(BeNil())
	g.Expect(role.GetNamespace()).To(Equal("apps"))
	got, err := rulesOf(role)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(Equal(want), "the Role differs from config/rbac/role.yaml")
	var bindings []string
	for _, o := range objs {
		if o.GetKind() == "ClusterRoleBinding" || o.GetKind() == "RoleBinding" {
			bindings = append(bindings, o.GetKind()+" "+o.GetNamespace()+"/"+o.GetName())
		}
	}
	g.Expect(bindings).To(ConsistOf("RoleBinding apps/fledge-manager", "RoleBinding fledge-system/fledge-leader-election", "ClusterRoleBinding /fledge-metrics-auth"))
	g.Expect(args(g, objs)).To(HaveKeyWithValue("--watch-namespaces", "apps"))
	binding := find(objs, "ValidatingAdmissionPolicyBinding", "fledge-status-requests")
	values, _, err := unstructured.NestedSlice(binding.Object, "spec", "matchResources", "namespaceSelector", "matchExpressions")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(values).To(Equal([]any{map[string]any{"key": "kubernetes.io/metadata.name", "operator": "In", "values": []any{"apps"}}}))

	chart, err := renderChart(map[string]any{"watchNamespaces": []any{"apps"}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(find(chart, "RoleBinding", "fledge-manager").Object["roleRef"]).To(Equal(find(objs, "RoleBinding", "fledge-manager").Object["roleRef"]))
	g.Expect(find(chart, "RoleBinding", "fledge-manager").GetNamespace()).To(Equal("apps"))
	g.Expect(args(g, chart)).To(HaveKeyWithValue("--watch-namespaces", "apps"))
	chartBinding := find(chart, "ValidatingAdmissionPolicyBinding", "fledge-status-requests")
	g.Expect(chartBinding.Object["spec"].(map[string]any)["matchResources"]).To(Equal(binding.Object["spec"].(map[string]any)["matchResources"]))
}
