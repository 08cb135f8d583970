package install_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"fledge.dev/fledge/test/cluster"
)

// These tests render the Helm chart of config/helm/fledge with Helm's own engine, as
// `helm template` would, and check what comes out; the install specs apply it to an API
// server. They need no control plane; the comparisons with config/default use the pinned
// kubectl for kustomize.

const (
	releaseName      = "fledge"
	releaseNamespace = "fledge-system"
)

// renderChart renders the chart with values over its defaults, for release "fledge" in
// fledge-system, in strict mode: a template reading a value that does not exist fails.
func renderChart(values map[string]any) ([]*unstructured.Unstructured, error) {
	return renderChartAs(releaseName, releaseNamespace, values)
}

func renderChartAs(name, namespace string, values map[string]any) ([]*unstructured.Unstructured, error) {
	dir, err := repoPath("config", "helm", "fledge")
	if err != nil {
		return nil, err
	}
	chrt, err := loader.Load(dir)
	if err != nil {
		return nil, err
	}
	vals, err := chartutil.ToRenderValues(chrt, values, chartutil.ReleaseOptions{Name: name, Namespace: namespace, IsInstall: true, Revision: 1}, nil)
	if err != nil {
		return nil, err
	}
	files, err := engine.Engine{Strict: true}.Render(chrt, vals)
	if err != nil {
		return nil, err
	}
	var objs []*unstructured.Unstructured
	for _, file := range slices.Sorted(maps.Keys(files)) {
		if !strings.HasSuffix(file, ".yaml") {
			continue // NOTES.txt, _helpers.tpl
		}
		got, err := cluster.DecodeObjects([]byte(files[file]))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		objs = append(objs, got...)
	}
	return objs, nil
}

// readObjects reads the objects of a file of the repository.
func readObjects(parts ...string) ([]*unstructured.Unstructured, error) {
	path, err := repoPath(parts...)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return cluster.DecodeObjects(data)
}

func args(g Gomega, objs []*unstructured.Unstructured) map[string]string {
	d := find(objs, "Deployment", "fledge-manager")
	g.Expect(d).NotTo(BeNil(), "the chart renders no Deployment fledge-manager")
	flags, err := containerArgs(d)
	g.Expect(err).NotTo(HaveOccurred())
	return flags
}

func TestChartCRDsAreTheGeneratedOnes(t *testing.T) {
	g := NewWithT(t)
	// Helm installs crds/ as they are, before the templates; they must be what make generate
	// writes to config/crd/bases. After changing apis/: make generate, then
	//   cp config/crd/bases/*.yaml config/helm/fledge/crds/
	bases, err := repoPath("config", "crd", "bases")
	g.Expect(err).NotTo(HaveOccurred())
	crds, err := repoPath("config", "helm", "fledge", "crds")
	g.Expect(err).NotTo(HaveOccurred())
	want, err := filepath.Glob(filepath.Join(bases, "*.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	got, err := filepath.Glob(filepath.Join(crds, "*"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(want).NotTo(BeEmpty())
	g.Expect(baseNames(got)).To(Equal(baseNames(want)), "the chart's crds/ and config/crd/bases hold different files")
	for _, path := range want {
		generated, err := os.ReadFile(path)
		g.Expect(err).NotTo(HaveOccurred())
		copied, err := os.ReadFile(filepath.Join(crds, filepath.Base(path)))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(string(copied)).To(Equal(string(generated)),
			"config/helm/fledge/crds/%s differs from config/crd/bases: cp config/crd/bases/*.yaml config/helm/fledge/crds/", filepath.Base(path))
	}
}

func TestChartFilesAreConfigPrometheus(t *testing.T) {
	g := NewWithT(t)
	// The chart cannot read files outside its folder; it keeps copies of the alerts and the
	// dashboard.
	for copied, original := range map[string]string{"alerts.yaml": "rules.yaml", "dashboard.json": "dashboard.json"} {
		a, err := repoPath("config", "helm", "fledge", "files", copied)
		g.Expect(err).NotTo(HaveOccurred())
		b, err := repoPath("config", "prometheus", original)
		g.Expect(err).NotTo(HaveOccurred())
		ca, err := os.ReadFile(a)
		g.Expect(err).NotTo(HaveOccurred())
		cb, err := os.ReadFile(b)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(string(ca)).To(Equal(string(cb)), "%s differs from %s: cp %s %s", a, b, b, a)
	}
}

func TestChartDefaults(t *testing.T) {
	g := NewWithT(t)
	objs, err := renderChart(nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(checkSchema(objs)).To(Succeed())
	g.Expect(checkLeastPrivilege(objs)).To(Succeed())
	g.Expect(objectKeys(objs)).To(ConsistOf(
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

	// The manager's rights are those make generate derives from the markers of controllers/.
	generated, err := readObjects("config", "rbac", "role.yaml")
	g.Expect(err).NotTo(HaveOccurred())
	want, err := rulesOf(generated[0])
	g.Expect(err).NotTo(HaveOccurred())
	got, err := rulesOf(find(objs, "ClusterRole", "fledge-manager"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(Equal(want), "the chart's manager ClusterRole differs from config/rbac/role.yaml (make generate): copy its rules into templates/rbac.yaml")

	d := find(objs, "Deployment", "fledge-manager")
	sa, _, _ := unstructured.NestedString(d.Object, "spec", "template", "spec", "serviceAccountName")
	g.Expect(sa).To(Equal("fledge-manager"))
	g.Expect(args(g, objs)).To(Equal(map[string]string{
		"--leader-elect":              "true",
		"--metrics-bind-address":      ":8443",
		"--metrics-secure":            "true",
		"--health-probe-bind-address": ":8081",
		"--zap-log-level":             "info",
		"--prometheus-address":        "http://prometheus.istio-system:9090",
		"--max-concurrent-reconciles": "16",
		"--kube-api-qps":              "500",
		"--kube-api-burst":            "1000",
		"--notification-timeout":      "10m",
		"--cluster-domain":            "cluster.local",
	}))
}

// container returns the manager container of the chart's Deployment.
func container(g Gomega, objs []*unstructured.Unstructured) map[string]any {
	d := find(objs, "Deployment", "fledge-manager")
	g.Expect(d).NotTo(BeNil())
	containers, _, err := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(containers).To(HaveLen(1))
	return containers[0].(map[string]any)
}

func TestChartValues(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values string
		check  func(g Gomega, objs []*unstructured.Unstructured)
	}{{
		name:   "image tag and digest",
		values: "image: {repository: registry.example/fledge, tag: v9.9.9, pullPolicy: Always}",
		check: func(g Gomega, objs []*unstructured.Unstructured) {
			c := container(g, objs)
			g.Expect(c["image"]).To(Equal("registry.example/fledge:v9.9.9"))
			g.Expect(c["imagePullPolicy"]).To(Equal("Always"))
		},
	}, {
		name:   "image digest wins over the tag",
		values: "image: {tag: v9.9.9, digest: 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'}",
		check: func(g Gomega, objs []*unstructured.Unstructured) {
			g.Expect(container(g, objs)["image"]).To(Equal("ghcr.io/fledge-dev/fledge@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"))
		},
	}, {
		name:   "the tag defaults to the chart's appVersion",
		values: "{}",
		check: func(g Gomega, objs []*unstructured.Unstructured) {
			g.Expect(container(g, objs)["image"]).To(Equal("ghcr.io/fledge-dev/fledge:v0.1.0"))
		},
	}, {
		name: "replicas, log level, manager settings and resources",
		values: `
replicaCount: 3
logLevel: debug
prometheusAddress: http://prometheus.monitoring:9090
clusterName: prod-eu
defaultAlertProvider: ops/slack
maxConcurrentReconciles: 8
kubeAPI: {qps: 20, burst: 40}
notificationTimeout: 2m
extraArgs: [--zap-encoder=console]
resources: {requests: {cpu: 250m, memory: 256Mi}, limits: {memory: 1Gi}}`,
		check: func(g Gomega, objs []*unstructured.Unstructured) {
			d := find(objs, "Deployment", "fledge-manager")
			g.Expect(d.Object["spec"]).To(HaveKeyWithValue("replicas", BeEquivalentTo(3)))
			g.Expect(args(g, objs)).To(And(
				HaveKeyWithValue("--zap-log-level", "debug"),
				HaveKeyWithValue("--prometheus-address", "http://prometheus.monitoring:9090"),
				HaveKeyWithValue("--cluster-name", "prod-eu"),
				HaveKeyWithValue("--default-alert-provider", "ops/slack"),
				HaveKeyWithValue("--max-concurrent-reconciles", "8"),
				HaveKeyWithValue("--kube-api-qps", "20"),
				HaveKeyWithValue("--kube-api-burst", "40"),
				HaveKeyWithValue("--notification-timeout", "2m"),
				HaveKeyWithValue("--zap-encoder", "console"),
			))
			g.Expect(container(g, objs)["resources"]).To(Equal(map[string]any{
				"requests": map[string]any{"cpu": "250m", "memory": "256Mi"},
				"limits":   map[string]any{"memory": "1Gi"},
			}))
		},
	}, {
		name:   "one replica without leader election needs no Lease",
		values: "{replicaCount: 1, leaderElection: {enabled: false}}",
		check: func(g Gomega, objs []*unstructured.Unstructured) {
			g.Expect(args(g, objs)).To(HaveKeyWithValue("--leader-elect", "false"))
			g.Expect(find(objs, "Role", "fledge-leader-election")).To(BeNil())
			g.Expect(find(objs, "RoleBinding", "fledge-leader-election")).To(BeNil())
		},
	}, {
		name:   "shards share the Canaries among replicas, on the Leases of the release's namespace",
		values: "{replicaCount: 3, leaderElection: {enabled: false}, shards: 16}",
		check: func(g Gomega, objs []*unstructured.Unstructured) {
			g.Expect(args(g, objs)).To(HaveKeyWithValue("--shards", "16"))
			role := find(objs, "Role", "fledge-leader-election")
			g.Expect(role).NotTo(BeNil())
			rules, _, _ := unstructured.NestedSlice(role.Object, "rules")
			g.Expect(rules).To(ContainElement(And(
				HaveKeyWithValue("resources", ConsistOf("leases")),
				HaveKeyWithValue("verbs", ConsistOf("get", "list", "update", "delete")))))
		},
	}, {
		name:   "metrics on another port",
		values: "metrics: {port: 9443}",
		check: func(g Gomega, objs []*unstructured.Unstructured) {
			g.Expect(args(g, objs)).To(HaveKeyWithValue("--metrics-bind-address", ":9443"))
			ports, _, _ := unstructured.NestedSlice(find(objs, "Service", "fledge-metrics").Object, "spec", "ports")
			g.Expect(ports).To(ConsistOf(HaveKeyWithValue("port", BeEquivalentTo(9443))))
			g.Expect(container(g, objs)["ports"]).To(ContainElement(And(
				HaveKeyWithValue("name", "metrics"), HaveKeyWithValue("containerPort", BeEquivalentTo(9443)))))
		},
	}, {
		// Plain HTTP asks the API server nothing: the manager gets no TokenReview or
		// SubjectAccessReview rights, and there is no reader role to bind.
		name:   "insecure metrics need no review rights",
		values: "metrics: {secure: false, serviceMonitor: {enabled: true}}",
		check: func(g Gomega, objs []*unstructured.Unstructured) {
			g.Expect(args(g, objs)).To(HaveKeyWithValue("--metrics-secure", "false"))
			g.Expect(find(objs, "ClusterRole", "fledge-metrics-auth")).To(BeNil())
			g.Expect(find(objs, "ClusterRoleBinding", "fledge-metrics-auth")).To(BeNil())
			g.Expect(find(objs, "ClusterRole", "fledge-metrics-reader")).To(BeNil())
			sm := find(objs, "ServiceMonitor", "fledge-metrics")
			g.Expect(sm).NotTo(BeNil())
			endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
			g.Expect(endpoints).To(ConsistOf(And(
				HaveKeyWithValue("scheme", "http"), HaveKeyWithValue("port", "http-metrics"), Not(HaveKey("bearerTokenFile")))))
		},
	}, {
		name:   "no metrics, no metrics objects",
		values: "metrics: {enabled: false, serviceMonitor: {enabled: true}}",
		check: func(g Gomega, objs []*unstructured.Unstructured) {
			g.Expect(args(g, objs)).To(HaveKeyWithValue("--metrics-bind-address", "0"))
			for _, kind := range []string{"Service", "ServiceMonitor"} {
				g.Expect(find(objs, kind, "fledge-metrics")).To(BeNil(), kind)
			}
			g.Expect(find(objs, "ClusterRole", "fledge-metrics-auth")).To(BeNil())
		},
	}, {
		name: "monitoring with the Prometheus Operator and Grafana",
		values: `
metrics:
  readers: [{kind: ServiceAccount, name: prometheus-k8s, namespace: monitoring}]
  certificate: {certManager: {enabled: true}}
  serviceMonitor: {enabled: true, interval: 15s, labels: {release: kube-prometheus}}
prometheusRule: {enabled: true, labels: {release: kube-prometheus}}
grafanaDashboard: {enabled: true}`,
		check: func(g Gomega, objs []*unstructured.Unstructured) {
			binding := find(objs, "ClusterRoleBinding", "fledge-metrics-reader")
			g.Expect(binding).NotTo(BeNil())
			g.Expect(binding.Object["subjects"]).To(ConsistOf(map[string]any{"kind": "ServiceAccount", "name": "prometheus-k8s", "namespace": "monitoring"}))

			sm := find(objs, "ServiceMonitor", "fledge-metrics")
			g.Expect(sm).NotTo(BeNil())
			g.Expect(sm.GetLabels()).To(HaveKeyWithValue("release", "kube-prometheus"))
			endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
			g.Expect(endpoints).To(ConsistOf(And(HaveKeyWithValue("scheme", "https"), HaveKeyWithValue("interval", "15s"),
				HaveKeyWithValue("honorLabels", true), HaveKeyWithValue("port", "https-metrics"))))
			// Prometheus verifies the manager's certificate, which cert-manager issues from a
			// self-signed Issuer of the chart's, and which the manager serves.
			g.Expect(endpoints[0]).To(HaveKeyWithValue("tlsConfig", map[string]any{
				"ca":         map[string]any{"secret": map[string]any{"name": "fledge-metrics-cert", "key": "ca.crt"}},
				"serverName": "fledge-metrics.fledge-system.svc",
			}))
			certificate := find(objs, "Certificate", "fledge-metrics")
			g.Expect(certificate).NotTo(BeNil())
			g.Expect(certificate.Object["spec"]).To(And(HaveKeyWithValue("secretName", "fledge-metrics-cert"),
				HaveKeyWithValue("dnsNames", ContainElement("fledge-metrics.fledge-system.svc")),
				HaveKeyWithValue("issuerRef", HaveKeyWithValue("name", "fledge-selfsigned"))))
			g.Expect(find(objs, "Issuer", "fledge-selfsigned")).NotTo(BeNil())
			g.Expect(args(g, objs)).To(HaveKeyWithValue("--metrics-cert-dir", "/etc/fledge/metrics-cert"))
			volumes, _, _ := unstructured.NestedSlice(find(objs, "Deployment", "fledge-manager").Object, "spec", "template", "spec", "volumes")
			g.Expect(volumes).To(ConsistOf(map[string]any{"name": "metrics-cert", "secret": map[string]any{"secretName": "fledge-metrics-cert"}}))

			// The ServiceMonitor selects the chart's metrics Service.
			selector, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
			g.Expect(find(objs, "Service", "fledge-metrics").GetLabels()).To(gstruct(selector))

			// The alerts are config/prometheus/rules.yaml's.
			rule := find(objs, "PrometheusRule", "fledge-alerts")
			g.Expect(rule).NotTo(BeNil())
			g.Expect(rule.GetLabels()).To(HaveKeyWithValue("release", "kube-prometheus"))
			original, err := readObjects("config", "prometheus", "rules.yaml")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(rule.Object["spec"]).To(Equal(original[0].Object["spec"]))

			dashboard := find(objs, "ConfigMap", "fledge-dashboard")
			g.Expect(dashboard).NotTo(BeNil())
			g.Expect(dashboard.GetLabels()).To(HaveKeyWithValue("grafana_dashboard", "1"))
			path, err := repoPath("config", "prometheus", "dashboard.json")
			g.Expect(err).NotTo(HaveOccurred())
			want, err := os.ReadFile(path)
			g.Expect(err).NotTo(HaveOccurred())
			data, _, _ := unstructured.NestedStringMap(dashboard.Object, "data")
			g.Expect(data["fledge.json"]).To(MatchJSON(want))
		},
	}, {
		name:   "no admission policy",
		values: "managerWritePolicy: {enabled: false}",
		check: func(g Gomega, objs []*unstructured.Unstructured) {
			g.Expect(find(objs, "ValidatingAdmissionPolicy", "fledge-manager-writes")).To(BeNil())
			g.Expect(find(objs, "ValidatingAdmissionPolicyBinding", "fledge-manager-writes")).To(BeNil())
		},
	}, {
		name:   "no status-requests policy",
		values: "statusRequestPolicy: {enabled: false}",
		check: func(g Gomega, objs []*unstructured.Unstructured) {
			g.Expect(find(objs, "ValidatingAdmissionPolicy", "fledge-status-requests")).To(BeNil())
			g.Expect(find(objs, "ValidatingAdmissionPolicyBinding", "fledge-status-requests")).To(BeNil())
			g.Expect(find(objs, "ValidatingAdmissionPolicy", "fledge-manager-writes")).NotTo(BeNil())
		},
	}, {
		name:   "no aggregation into Kubernetes' user roles",
		values: "rbac: {aggregateToDefaultRoles: false}",
		check: func(g Gomega, objs []*unstructured.Unstructured) {
			g.Expect(find(objs, "ClusterRole", "fledge-edit")).To(BeNil())
			g.Expect(find(objs, "ClusterRole", "fledge-view")).To(BeNil())
			g.Expect(find(objs, "ClusterRole", "fledge-operator")).To(BeNil())
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			values := map[string]any{}
			g.Expect(yaml.Unmarshal([]byte(tc.values), &values)).To(Succeed())
			objs, err := renderChart(values)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(checkSchema(objs)).To(Succeed())
			g.Expect(checkLeastPrivilege(objs)).To(Succeed())
			tc.check(g, objs)
		})
	}
}

// gstruct matches labels that include every pair of want.
func gstruct(want map[string]string) OmegaMatcher {
	var ms []OmegaMatcher
	for k, v := range want {
		ms = append(ms, HaveKeyWithValue(k, v))
	}
	return And(ms...)
}

// A ServiceMonitor that could not verify the manager is refused, not rendered insecure.
func TestChartRefusesAServiceMonitorWithoutACertificate(t *testing.T) {
	g := NewWithT(t)
	_, err := renderChart(map[string]any{"metrics": map[string]any{"serviceMonitor": map[string]any{"enabled": true}}})
	g.Expect(err).To(MatchError(ContainSubstring("metrics.serviceMonitor needs a certificate Prometheus can verify")))
}

// A certificate Secret of one's own (and an Issuer of one's own) instead of the chart's.
func TestChartMountsACertificateOfOnesOwn(t *testing.T) {
	g := NewWithT(t)
	objs, err := renderChart(map[string]any{"metrics": map[string]any{
		"certificate":    map[string]any{"secretName": "metrics-tls"},
		"serviceMonitor": map[string]any{"enabled": true},
	}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(find(objs, "Certificate", "fledge-metrics")).To(BeNil())
	g.Expect(args(g, objs)).To(HaveKeyWithValue("--metrics-cert-dir", "/etc/fledge/metrics-cert"))
	endpoints, _, _ := unstructured.NestedSlice(find(objs, "ServiceMonitor", "fledge-metrics").Object, "spec", "endpoints")
	g.Expect(endpoints[0]).To(HaveKeyWithValue("tlsConfig", HaveKeyWithValue("ca", map[string]any{"secret": map[string]any{"name": "metrics-tls", "key": "ca.crt"}})))

	objs, err = renderChart(map[string]any{"metrics": map[string]any{"certificate": map[string]any{"certManager": map[string]any{
		"enabled": true, "issuerRef": map[string]any{"kind": "ClusterIssuer", "name": "corp-ca"},
	}}}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(find(objs, "Issuer", "fledge-selfsigned")).To(BeNil())
	g.Expect(find(objs, "Certificate", "fledge-metrics").Object["spec"]).To(HaveKeyWithValue("issuerRef",
		map[string]any{"kind": "ClusterIssuer", "name": "corp-ca", "group": "cert-manager.io"}))
}

func TestChartRefusesReplicasWithoutLeaderElection(t *testing.T) {
	g := NewWithT(t)
	_, err := renderChart(map[string]any{"leaderElection": map[string]any{"enabled": false}})
	g.Expect(err).To(MatchError(ContainSubstring("replicaCount > 1 needs leaderElection.enabled")))
}

func TestChartNamesFollowTheRelease(t *testing.T) {
	g := NewWithT(t)
	objs, err := renderChartAs("platform", "delivery", nil)
	g.Expect(err).NotTo(HaveOccurred())
	for _, o := range objs {
		g.Expect(o.GetName()).To(HavePrefix("platform-fledge-"))
		if ns := o.GetNamespace(); ns != "" {
			g.Expect(ns).To(Equal("delivery"))
		}
	}
	// The admission policies tell the chart's ServiceAccount apart.
	g.Expect(policyUser(g, objs, "-manager-writes", "==")).To(Equal("system:serviceaccount:delivery:platform-fledge-manager"))
	g.Expect(policyUser(g, objs, "-status-requests", "!=")).To(Equal("system:serviceaccount:delivery:platform-fledge-manager"))
	// Every binding names the chart's ServiceAccount in the release's namespace.
	for _, kind := range []string{"ClusterRoleBinding", "RoleBinding"} {
		for _, o := range objs {
			if o.GetKind() != kind {
				continue
			}
			g.Expect(o.Object["subjects"]).To(ConsistOf(map[string]any{"kind": "ServiceAccount", "name": "platform-fledge-manager", "namespace": "delivery"}), o.GetName())
		}
	}
}

// The chart installs what config/default installs: the same objects by kind and name (the
// Namespace and the CRDs aside, which Helm handles itself), the same rights, and the same
// manager settings.
func TestChartMatchesKustomize(t *testing.T) {
	needsKubectl(t)
	g := NewWithT(t)
	rendered, err := kustomize("default")
	g.Expect(err).NotTo(HaveOccurred())
	kobjs, err := cluster.DecodeObjects(rendered)
	g.Expect(err).NotTo(HaveOccurred())
	var kustomized []*unstructured.Unstructured
	for _, o := range kobjs {
		if o.GetKind() != "Namespace" && o.GetKind() != "CustomResourceDefinition" {
			kustomized = append(kustomized, o)
		}
	}
	hobjs, err := renderChart(nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(objectKeys(hobjs)).To(Equal(objectKeys(kustomized)))

	for _, k := range kustomized {
		h := find(hobjs, k.GetKind(), k.GetName())
		switch k.GetKind() {
		case "ClusterRole", "Role":
			want, err := rulesOf(k)
			g.Expect(err).NotTo(HaveOccurred())
			got, err := rulesOf(h)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(want), "%s %s", k.GetKind(), k.GetName())
			g.Expect(labelsWithPrefix(h, "rbac.authorization.k8s.io/")).To(Equal(labelsWithPrefix(k, "rbac.authorization.k8s.io/")), k.GetName())
		case "ClusterRoleBinding", "RoleBinding":
			g.Expect(h.Object["roleRef"]).To(Equal(k.Object["roleRef"]), k.GetName())
			g.Expect(h.Object["subjects"]).To(Equal(k.Object["subjects"]), k.GetName())
		case "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding":
			g.Expect(h.Object["spec"]).To(Equal(k.Object["spec"]), "%s %s", k.GetKind(), k.GetName())
		case "Service":
			g.Expect(h.Object["spec"].(map[string]any)["ports"]).To(Equal(k.Object["spec"].(map[string]any)["ports"]))
		case "Deployment":
			kd, hd := k.Object["spec"].(map[string]any), h.Object["spec"].(map[string]any)
			g.Expect(hd["replicas"]).To(Equal(kd["replicas"]))
			kpod, _, _ := unstructured.NestedMap(k.Object, "spec", "template", "spec")
			hpod, _, _ := unstructured.NestedMap(h.Object, "spec", "template", "spec")
			for _, field := range []string{"securityContext", "terminationGracePeriodSeconds"} {
				g.Expect(hpod[field]).To(Equal(kpod[field]), field)
			}
			kc, hc := kpod["containers"].([]any)[0].(map[string]any), hpod["containers"].([]any)[0].(map[string]any)
			for _, field := range []string{"name", "image", "ports", "livenessProbe", "readinessProbe", "resources", "securityContext"} {
				g.Expect(hc[field]).To(Equal(kc[field]), "container %s", field)
			}
			kflags, err := containerArgs(k)
			g.Expect(err).NotTo(HaveOccurred())
			hflags, err := containerArgs(h)
			g.Expect(err).NotTo(HaveOccurred())
			for name, value := range kflags {
				g.Expect(hflags).To(HaveKeyWithValue(name, value))
			}
		}
	}
}

func labelsWithPrefix(o *unstructured.Unstructured, prefix string) map[string]string {
	out := map[string]string{}
	for k, v := range o.GetLabels() {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out
}

func baseNames(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Base(p)
	}
	sort.Strings(out)
	return out
}

// watchNamespaces makes the install namespace-scoped: the manager watches the namespaces
// listed (and its default provider's), its rule set is a Role in each of them and nowhere
// else, and its status policy judges those namespaces only.
func TestChartWatchNamespaces(t *testing.T) {
	g := NewWithT(t)
	objs, err := renderChart(map[string]any{"watchNamespaces": []any{"shop", "payments"}, "defaultAlertProvider": "fledge-system/slack"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(args(g, objs)).To(HaveKeyWithValue("--watch-namespaces", "shop,payments,fledge-system"))
	g.Expect(find(objs, "ClusterRoleBinding", "fledge-manager")).To(BeNil(), "no rights outside the watched namespaces")
	g.Expect(find(objs, "ClusterRole", "fledge-manager")).To(BeNil(), "Roles only")
	generated, err := readObjects("config", "rbac", "role.yaml")
	g.Expect(err).NotTo(HaveOccurred())
	want, err := rulesOf(generated[0])
	g.Expect(err).NotTo(HaveOccurred())
	var boundIn, rolesIn []string
	for _, o := range objs {
		switch {
		case o.GetKind() == "RoleBinding" && o.GetName() == "fledge-manager":
			boundIn = append(boundIn, o.GetNamespace())
			g.Expect(o.Object["roleRef"]).To(Equal(map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "fledge-manager"}))
		case o.GetKind() == "Role" && o.GetName() == "fledge-manager":
			rolesIn = append(rolesIn, o.GetNamespace())
			got, err := rulesOf(o)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(want), "the Role of %s differs from config/rbac/role.yaml", o.GetNamespace())
		}
	}
	g.Expect(boundIn).To(ConsistOf("shop", "payments", "fledge-system"))
	g.Expect(rolesIn).To(ConsistOf("shop", "payments", "fledge-system"))
	binding := find(objs, "ValidatingAdmissionPolicyBinding", "fledge-status-requests")
	g.Expect(binding).NotTo(BeNil())
	values, _, err := unstructured.NestedSlice(binding.Object, "spec", "matchResources", "namespaceSelector", "matchExpressions")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(values).To(Equal([]any{map[string]any{"key": "kubernetes.io/metadata.name", "operator": "In", "values": []any{"shop", "payments", "fledge-system"}}}))

	// Cluster-wide by default.
	objs, err = renderChart(nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(args(g, objs)).NotTo(HaveKey("--watch-namespaces"))
	g.Expect(find(objs, "ClusterRoleBinding", "fledge-manager")).NotTo(BeNil())
	binding = find(objs, "ValidatingAdmissionPolicyBinding", "fledge-status-requests")
	g.Expect(binding.Object["spec"]).NotTo(HaveKey("matchResources"))
}
