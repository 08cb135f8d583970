package install_test

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

var _ = Describe("An install from the Helm chart", func() {
	It("is accepted by the API server, and its manager's pods run under the restricted Pod Security Standard", func(ctx context.Context) {
		// helm install --create-namespace would make the namespace; labelled restricted here,
		// as config/default labels its own, so that the pods must meet the standard.
		const ns = "fledge-chart"
		create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{
			"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/warn": "restricted",
		}}})
		values := map[string]any{}
		Expect(yaml.Unmarshal([]byte(`
metrics: {readers: [{kind: ServiceAccount, name: scraper, namespace: fledge-system}]}
clusterName: chart-test
defaultAlertProvider: ops/slack
# The status-requests policy holds every writer but its own install's manager: left on, this
# second install would refuse the status writes of config/default's manager, which the other
# specs run. (Its rendering is checked in chart_test.go, its rules in test/cluster.)
statusRequestPolicy: {enabled: false}`), &values)).To(Succeed())
		objs, err := renderChartAs("fledge-chart", ns, values)
		Expect(err).NotTo(HaveOccurred())
		var manifest []string
		for _, o := range objs {
			data, err := yaml.Marshal(o.Object)
			Expect(err).NotTo(HaveOccurred())
			manifest = append(manifest, string(data))
		}
		out, err := kubectl(ctx, []byte(strings.Join(manifest, "---\n")), "apply", "--server-side", "--field-manager=install-test", "-f", "-")
		Expect(err).NotTo(HaveOccurred())
		// No Pod Security (warn: restricted) or deprecation warning.
		Expect(out).NotTo(ContainSubstring("Warning"))
		Eventually(func(g Gomega) {
			d := &appsv1.Deployment{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "fledge-chart-manager"}, d)).To(Succeed())
			g.Expect(d.Status.AvailableReplicas).To(Equal(*d.Spec.Replicas))
		}).WithContext(ctx).WithTimeout(2 * time.Minute).Should(Succeed())
	})

	It("passes the manager flags it knows", func(ctx context.Context) {
		values := map[string]any{}
		Expect(yaml.Unmarshal([]byte(`
replicaCount: 1
leaderElection: {enabled: false}
logLevel: debug
clusterName: chart-test
defaultAlertProvider: ops/slack
metrics: {secure: false, port: 9090}
extraArgs: [--zap-encoder=console]`), &values)).To(Succeed())
		objs, err := renderChart(values)
		Expect(err).NotTo(HaveOccurred())
		flags, err := containerArgsList(find(objs, "Deployment", "fledge-manager"))
		Expect(err).NotTo(HaveOccurred())
		// The manager exits with 2 on a flag it does not know, and with 1 when it then cannot
		// find the cluster.
		cmd := exec.CommandContext(ctx, managerBinary, append(flags, "--kubeconfig=/nonexistent/kubeconfig")...)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		Expect(errors.As(err, &exit)).To(BeTrue(), "%v: %s", err, out)
		Expect(exit.ExitCode()).To(Equal(1), "%s", out)
		Expect(string(out)).To(ContainSubstring("find the cluster"))
	})
})
