package install_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	istioapiv1 "istio.io/api/networking/v1"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/test/canarytest"
	"fledge.dev/fledge/test/cluster"
	"fledge.dev/fledge/test/fakeslack"
)

// The manager's identity in config/default.
const (
	managerNamespace = cluster.ManagerNamespace
	managerUser      = cluster.ManagerUser
)

var _ = Describe("An install from config/default", Ordered, func() {
	var (
		rendered   []byte
		deployment *unstructured.Unstructured
		manager    *cluster.Process
		prom       *promServer
		webhook    *fakeslack.Webhook
		slackBot   *fakeslack.Server
		// metricsURL and probesURL are where the manager serves, on loopback.
		metricsURL, probesURL string
		// deadPort has nothing listening: the address of an unreachable provider.
		deadPort int
	)

	BeforeAll(func(ctx context.Context) {
		var err error
		rendered, err = kustomize("default")
		Expect(err).NotTo(HaveOccurred())
		objs, err := cluster.DecodeObjects(rendered)
		Expect(err).NotTo(HaveOccurred())
		deployment = find(objs, "Deployment", "fledge-manager")
		Expect(deployment).NotTo(BeNil())

		// As a person would install it. The CRDs are already there (the harness installs
		// config/crd/bases); applying them again must be a no-op.
		out, err := kubectl(ctx, rendered, "apply", "--server-side", "--field-manager=install-test", "-f", "-")
		Expect(err).NotTo(HaveOccurred())
		// No Pod Security (the namespace warns on restricted) or deprecation warning.
		Expect(out).NotTo(ContainSubstring("Warning"))

		webhook, err = fakeslack.StartWebhook()
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(webhook.Close)
		slackBot, err = fakeslack.Start()
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(slackBot.Close)
		deadPort, err = freePort()
		Expect(err).NotTo(HaveOccurred())

		// Prometheus scrapes the manager as the Prometheus Operator would with
		// config/prometheus: with the token of a ServiceAccount bound to metrics-reader.
		bindMetricsReader(ctx, "scraper")
		tokenFile := filepath.Join(work, "scraper.token")
		Expect(writeFile(tokenFile, serviceAccountToken(ctx, managerNamespace, "scraper"))).To(Succeed())
		rulesFile := filepath.Join(work, "alerts.yaml")
		_, err = writeRuleFile(rulesFile)
		Expect(err).NotTo(HaveOccurred())
		metricsPort, err := freePort()
		Expect(err).NotTo(HaveOccurred())
		probesPort, err := freePort()
		Expect(err).NotTo(HaveOccurred())
		// The manager serves a certificate that Prometheus verifies, as config/prometheus
		// has cert-manager issue it.
		metricsCert, err := issueMetricsCertificate(work)
		Expect(err).NotTo(HaveOccurred())
		verifying = metricsCert.client()
		metricsURL = fmt.Sprintf("https://127.0.0.1:%d/metrics", metricsPort)
		probesURL = fmt.Sprintf("http://127.0.0.1:%d", probesPort)
		prom, err = startPrometheus(ctx, promOptions{
			Dir: work, Binary: stack.Assets.Path("prometheus"),
			Target: fmt.Sprintf("127.0.0.1:%d", metricsPort), TokenFile: tokenFile, RulesFile: rulesFile,
			CAFile: metricsCert.CAFile, ServerName: metricsServerName,
		})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(prom.Stop)

		// The manager authenticates with a token of its ServiceAccount, as in its pod: it has
		// that account's rights and no others.
		// The harness waits until RBAC and the admission policy judge that account as installed.
		kubeconfig, err := stack.ManagerKubeconfig(ctx)
		Expect(err).NotTo(HaveOccurred())
		flags, err := containerArgsList(deployment)
		Expect(err).NotTo(HaveOccurred())
		// The Deployment's own flags, then what differs outside a pod (later flags win).
		args := append(flags,
			"--kubeconfig="+kubeconfig,
			fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", metricsPort),
			"--metrics-cert-dir="+metricsCert.Dir,
			fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", probesPort),
			// In a pod, the Lease goes to the pod's namespace.
			"--leader-election-namespace="+managerNamespace,
			"--prometheus-address="+prom.URL,
			"--default-alert-provider=install-app/team-webhook",
			"--cluster-name=install-test",
			"--slack-api-url="+slackBot.URL(),
			// A dead webhook is given up on within the test's patience.
			"--notification-timeout=3s",
		)
		manager, err = cluster.StartProcess(work, "manager", managerBinary, args...)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() {
			Expect(manager.Stop(30 * time.Second)).To(Succeed())
		})
		Eventually(func() error {
			if err := manager.Running(); err != nil {
				return StopTrying("the manager exited").Wrap(err)
			}
			return get(probesURL+"/readyz", "")
		}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())
	}, NodeTimeout(5*time.Minute))

	AfterEach(func() {
		if CurrentSpecReport().Failed() && manager != nil {
			GinkgoWriter.Printf("The end of the manager's log:\n%s\n", manager.LogTail(60))
		}
	})

	It("runs the manager's pods under the restricted Pod Security Standard", func(ctx context.Context) {
		// The namespace enforces restricted: the ReplicaSet could not create a pod that
		// breaks it. kwok plays the kubelet and makes them Ready.
		Eventually(func(g Gomega) {
			d := &appsv1.Deployment{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: managerNamespace, Name: "fledge-manager"}, d)).To(Succeed())
			g.Expect(d.Status.AvailableReplicas).To(Equal(*d.Spec.Replicas))
		}).WithContext(ctx).WithTimeout(2 * time.Minute).Should(Succeed())
	})

	It("runs the binary the image ships: static, with no C library to load", func() {
		Expect(isStatic(managerBinary)).To(BeTrue())
	})

	It("answers the probes of its Deployment", func() {
		containers, _, _ := unstructured.NestedSlice(deployment.Object, "spec", "template", "spec", "containers")
		for _, probe := range []string{"livenessProbe", "readinessProbe"} {
			path, _, _ := unstructured.NestedString(containers[0].(map[string]any), probe, "httpGet", "path")
			Expect(path).NotTo(BeEmpty(), probe)
			Expect(get(probesURL+path, "")).To(Succeed(), probe)
		}
	})

	It("promotes a new version with its ServiceAccount's rights alone", func(ctx context.Context) {
		const ns = "install-app"
		createNamespace(ctx, ns)
		// The target uses a ConfigMap and a Secret, which the manager hashes and copies for
		// the primary: the widest rights it has.
		create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-config"}, Data: map[string]string{"greeting": "hello"}})
		create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-secret"}, StringData: map[string]string{"password": "s3cret"}})
		// The checks ask the suite's Prometheus, with the credentials of a Secret.
		createAlwaysOne(ctx, ns, prom)
		// The news goes to the default provider of --default-alert-provider.
		create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "team-webhook"}, StringData: map[string]string{"url": webhook.URL()}})
		create(ctx, &fledgev1alpha1.AlertProvider{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "team-webhook"},
			Spec:       fledgev1alpha1.AlertProviderSpec{WebhookURL: &fledgev1alpha1.SecretKeyRef{SecretName: "team-webhook", Key: "url"}},
		})
		create(ctx, target(ns, "web", func(pod *corev1.PodSpec) {
			pod.Containers[0].EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "web-config"}}}}
			pod.Volumes = []corev1.Volume{{Name: "secret", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "web-secret"}}}}
		}))
		ceiling := 5.0
		create(ctx, &fledgev1alpha1.Canary{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
			Spec: fledgev1alpha1.CanarySpec{
				TargetRef: fledgev1alpha1.TargetRef{Name: "web"},
				Service:   fledgev1alpha1.CanaryService{Port: 80, TargetPort: 8080},
				Analysis: fledgev1alpha1.CanaryAnalysis{
					Interval: &metav1.Duration{Duration: time.Second}, Threshold: 2,
					StepWeights: []int32{25, 50, 75},
					Metrics: []fledgev1alpha1.CanaryMetric{{
						Name: "always-one", TemplateRef: &fledgev1alpha1.MetricTemplateRef{Name: "always-one"},
						ThresholdRange: &fledgev1alpha1.ThresholdRange{Max: &ceiling},
					}},
				},
			},
		})
		waitPhase(ctx, ns, "web", fledgev1alpha1.PhaseInitialized)
		release(ctx, ns, "web", "example.com/web:v2")
		waitPhase(ctx, ns, "web", fledgev1alpha1.PhaseSucceeded)

		primary := &appsv1.Deployment{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web-primary"}, primary)).To(Succeed())
		Expect(primary.Spec.Template.Spec.Containers[0].Image).To(Equal("example.com/web:v2"))
		for _, obj := range []client.Object{&corev1.ConfigMap{}, &corev1.Secret{}} {
			name := map[bool]string{true: "web-config-primary", false: "web-secret-primary"}[isConfigMap(obj)]
			Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj)).To(Succeed(), "the primary's copy %s", name)
		}
		Eventually(webhook.Posts).WithTimeout(30 * time.Second).ShouldNot(BeEmpty())
	})

	It("takes the samples as they are, and initialises the podinfo one", func(ctx context.Context) {
		root, err := cluster.RepoRoot()
		Expect(err).NotTo(HaveOccurred())
		samples := filepath.Join(root, "config", "samples")
		const ns = "install-samples"
		createNamespace(ctx, ns)
		out, err := kubectl(ctx, nil, "apply", "-n", ns, "-k", samples)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).NotTo(ContainSubstring("Warning"))
		// The samples left out of the kustomization: a second Canary for the same Deployment,
		// and an AlertProvider whose Secret the reader fills in.
		for _, file := range []string{"ab-test.yaml", "slack.yaml"} {
			out, err := kubectl(ctx, nil, "apply", "--dry-run=server", "-n", ns, "-f", filepath.Join(samples, file))
			Expect(err).NotTo(HaveOccurred(), file)
			Expect(out).NotTo(ContainSubstring("Warning"), file)
		}
		c := waitPhase(ctx, ns, "podinfo", fledgev1alpha1.PhaseInitialized)
		Expect(c.Status.CanaryWeight).To(BeZero())
		primary := &appsv1.Deployment{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "podinfo-primary"}, primary)).To(Succeed())
		Expect(primary.Status.ReadyReplicas).To(Equal(int32(2)))
	})

	It("acts only in the namespaces an administrator enabled, and says so where it may not", func(ctx context.Context) {
		const ns = "install-not-enabled"
		create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		create(ctx, target(ns, "web", nil))
		create(ctx, &fledgev1alpha1.Canary{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
			Spec:       fledgev1alpha1.CanarySpec{TargetRef: fledgev1alpha1.TargetRef{Name: "web"}, Service: fledgev1alpha1.CanaryService{Port: 80, TargetPort: 8080}},
		})
		By("writing nothing there, with a condition that says what to do")
		Eventually(func(g Gomega) {
			c := &fledgev1alpha1.Canary{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, c)).To(Succeed())
			ready := apimeta.FindStatusCondition(c.Status.Conditions, fledgev1alpha1.ConditionReady)
			g.Expect(ready).NotTo(BeNil())
			g.Expect(ready.Reason).To(Equal(fledgev1alpha1.ReasonApplyFailed))
			g.Expect(ready.Message).To(ContainSubstring("kubectl label namespace " + ns + " fledge.dev/enabled=true"))
		}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())
		for _, obj := range []client.Object{&corev1.Service{}, &appsv1.Deployment{}} {
			Expect(apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web-primary"}, obj))).To(BeTrue(), "%T web-primary was written", obj)
		}
		By("refusing the manager's own token there, even for a Canary's object")
		canary := &fledgev1alpha1.Canary{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, canary)).To(Succeed())
		owner := metav1.OwnerReference{APIVersion: fledgev1alpha1.GroupVersion.String(), Kind: "Canary", Name: canary.Name, UID: canary.UID, Controller: ptr.To(true)}
		planted := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "planted",
			Labels: map[string]string{"app.kubernetes.io/managed-by": "fledge"}, OwnerReferences: []metav1.OwnerReference{owner}}}
		Expect(asManager().Create(ctx, planted, client.DryRunAll)).To(MatchError(ContainSubstring("Fledge acts only in namespaces an administrator has enabled")))

		By("acting once the administrator enables the namespace")
		namespace := &corev1.Namespace{}
		Expect(k8s.Get(ctx, client.ObjectKey{Name: ns}, namespace)).To(Succeed())
		namespace.Labels[fledgev1alpha1.LabelNamespaceEnabled] = "true"
		Expect(k8s.Update(ctx, namespace)).To(Succeed())
		waitPhase(ctx, ns, "web", fledgev1alpha1.PhaseInitialized)
	})

	It("aborts a rollout whose metrics provider is unreachable, and gives up on a dead webhook", func(ctx context.Context) {
		const ns = "install-bad"
		createNamespace(ctx, ns)
		create(ctx, &fledgev1alpha1.MetricTemplate{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "unreachable"},
			Spec: fledgev1alpha1.MetricTemplateSpec{
				Provider: fledgev1alpha1.MetricProvider{Address: fmt.Sprintf("http://127.0.0.1:%d", deadPort)},
				Query:    "vector(1)",
			},
		})
		create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "dead-webhook"},
			StringData: map[string]string{"url": fmt.Sprintf("http://127.0.0.1:%d%s", deadPort, fakeslack.WebhookPath)}})
		create(ctx, &fledgev1alpha1.AlertProvider{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "dead-webhook"},
			Spec:       fledgev1alpha1.AlertProviderSpec{WebhookURL: &fledgev1alpha1.SecretKeyRef{SecretName: "dead-webhook", Key: "url"}},
		})
		create(ctx, target(ns, "api", nil))
		ceiling := 5.0
		create(ctx, &fledgev1alpha1.Canary{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api"},
			Spec: fledgev1alpha1.CanarySpec{
				TargetRef: fledgev1alpha1.TargetRef{Name: "api"},
				Service:   fledgev1alpha1.CanaryService{Port: 80, TargetPort: 8080},
				Analysis: fledgev1alpha1.CanaryAnalysis{
					// Enough failed checks, a second apart, for Prometheus to see their count rise.
					Interval: &metav1.Duration{Duration: time.Second}, Threshold: 5,
					Metrics: []fledgev1alpha1.CanaryMetric{{
						Name: "unreachable", TemplateRef: &fledgev1alpha1.MetricTemplateRef{Name: "unreachable"},
						ThresholdRange: &fledgev1alpha1.ThresholdRange{Max: &ceiling},
					}},
					Alerts: []fledgev1alpha1.CanaryAlert{{ProviderRef: fledgev1alpha1.AlertProviderRef{Name: "dead-webhook"}}},
				},
			},
		})
		waitPhase(ctx, ns, "api", fledgev1alpha1.PhaseInitialized)
		release(ctx, ns, "api", "example.com/api:v2")
		c := waitPhase(ctx, ns, "api", fledgev1alpha1.PhaseFailed)
		Expect(c.Status.Message).To(Or(ContainSubstring("unreachable"), ContainSubstring("connection refused")))
	})

	It("is held by the admission policy to its own objects, its targets' replicas, and what it takes over for a Canary", func(ctx context.Context) {
		// What RBAC alone would let the manager do: change any Deployment, Service, Secret,
		// ConfigMap, VirtualService or DestinationRule.
		const ns = "install-app"
		asIt := asManager()
		userSecret := &corev1.Secret{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web-secret"}, userSecret)).To(Succeed())
		userSecret.StringData = map[string]string{"password": "stolen"}
		Expect(asIt.Update(ctx, userSecret, client.DryRunAll)).To(MatchError(ContainSubstring("writes only the ConfigMaps and Secrets it manages")))
		Expect(asIt.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "planted"}}, client.DryRunAll)).
			To(MatchError(ContainSubstring("Fledge acts only in namespaces an administrator has enabled for it: namespace kube-system is not")))
		// Labelling a user's ConfigMap as Fledge's does not make it Fledge's.
		userConfig := &corev1.ConfigMap{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web-config"}, userConfig)).To(Succeed())
		userConfig.Labels = map[string]string{"app.kubernetes.io/managed-by": "fledge"}
		Expect(asIt.Update(ctx, userConfig, client.DryRunAll)).To(MatchError(ContainSubstring("and takes over none")))

		// The copies it made for the primary stay its own to change.
		copied := &corev1.Secret{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web-secret-primary"}, copied)).To(Succeed())
		copied.StringData = map[string]string{"password": "rotated"}
		Expect(asIt.Update(ctx, copied, client.DryRunAll)).To(Succeed())

		// A token Secret, even made as the Canary's own, would be an API credential.
		canary := waitPhase(ctx, ns, "web", fledgev1alpha1.PhaseSucceeded)
		owner := metav1.OwnerReference{APIVersion: fledgev1alpha1.GroupVersion.String(), Kind: "Canary", Name: canary.Name, UID: canary.UID, Controller: ptr.To(true)}
		ofTheCanary := metav1.ObjectMeta{Namespace: ns, GenerateName: "planted-", Labels: map[string]string{"app.kubernetes.io/managed-by": "fledge"}, OwnerReferences: []metav1.OwnerReference{owner}}
		token := &corev1.Secret{ObjectMeta: ofTheCanary, Type: corev1.SecretTypeServiceAccountToken}
		token.Annotations = map[string]string{corev1.ServiceAccountNameKey: "default"}
		Expect(asIt.Create(ctx, token, client.DryRunAll)).To(MatchError(ContainSubstring("writes no token Secret")))

		// Deployments: its own only, and of the target the replicas alone.
		Expect(asIt.Create(ctx, target(ns, "planted", nil), client.DryRunAll)).To(MatchError(ContainSubstring("creates only the objects of a Canary")))
		own := target(ns, "planted", nil)
		own.ObjectMeta = *ofTheCanary.DeepCopy()
		Expect(asIt.Create(ctx, own, client.DryRunAll)).To(Succeed(), "a copy of the Canary's")
		userTarget := &appsv1.Deployment{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, userTarget)).To(Succeed())
		rescaled := userTarget.DeepCopy()
		rescaled.Spec.Replicas = ptr.To(*userTarget.Spec.Replicas + 1)
		Expect(asIt.Update(ctx, rescaled, client.DryRunAll)).To(Succeed(), "the replicas of its target")
		swapped := userTarget.DeepCopy()
		swapped.Spec.Template.Spec.ServiceAccountName = "cluster-admin-sa"
		Expect(asIt.Update(ctx, swapped, client.DryRunAll)).To(MatchError(ContainSubstring("changes only the replicas of a Deployment it did not make")))
		Expect(asIt.Delete(ctx, userTarget, client.DryRunAll)).To(MatchError(ContainSubstring("deletes only objects it made")))

		// A user's Service: taken over only for a Canary, with its selector kept to give back.
		bystander := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bystander"},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "bystander"}, Ports: []corev1.ServicePort{{Port: 80}}}}
		create(ctx, bystander)
		hijacked := bystander.DeepCopy()
		hijacked.Spec.Selector = map[string]string{"app": "attacker"}
		Expect(asIt.Update(ctx, hijacked, client.DryRunAll)).To(MatchError(ContainSubstring("takes over a Service, VirtualService or DestinationRule only for a Canary")))
	})

	It("refuses an operator every status write but a request in their own name, and acts on that", func(ctx context.Context) {
		steerAsOperator(ctx, slackBot)
	})

	It("keeps a tenant to its own: another's templates, providers, hosts and Gateways serve it only once their owners share them", func(ctx context.Context) {
		borrowAcrossTenants(ctx, prom, slackBot)
	})

	It("serves metrics only to callers allowed to get /metrics", func(ctx context.Context) {
		By("serving the certificate it was given, which a caller that trusts another CA refuses")
		strangers := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}
		_, err := strangers.Get(metricsURL)
		Expect(err).To(MatchError(ContainSubstring("certificate signed by unknown authority")))

		By("refusing a caller without credentials")
		Expect(get(metricsURL, "")).To(MatchError(ContainSubstring("401")))

		By("refusing an authenticated caller without the metrics-reader role")
		createServiceAccount(ctx, "nobody")
		Expect(get(metricsURL, serviceAccountToken(ctx, managerNamespace, "nobody"))).To(MatchError(ContainSubstring("403")))

		By("serving a caller bound to metrics-reader, with the series of both rollouts")
		token := serviceAccountToken(ctx, managerNamespace, "scraper")
		Eventually(func(g Gomega) {
			body, err := scrape(metricsURL, token)
			g.Expect(err).NotTo(HaveOccurred())
			_, families, err := servedMetrics(body)
			g.Expect(err).NotTo(HaveOccurred())
			for _, s := range []struct {
				family string
				labels map[string]string
			}{
				{"fledge_canary_phase", map[string]string{"namespace": "install-app", "name": "web", "phase": "Succeeded"}},
				{"fledge_canary_phase", map[string]string{"namespace": "install-bad", "name": "api", "phase": "Failed"}},
				{"fledge_canary_weight", map[string]string{"namespace": "install-app", "name": "web"}},
				{"fledge_canary_failed_checks", map[string]string{"namespace": "install-bad", "name": "api"}},
				{"fledge_step_duration_seconds", nil},
				{"fledge_step_lateness_seconds", nil},
				{"fledge_rollout_duration_seconds", map[string]string{"result": "Succeeded"}},
				{"fledge_rollout_duration_seconds", map[string]string{"result": "Failed"}},
				{"fledge_analysis_results_total", map[string]string{"verdict": "Pass"}},
				{"fledge_analysis_results_total", map[string]string{"verdict": "Fail"}},
				{"fledge_analysis_problems_total", map[string]string{"reason": "ProviderUnreachable"}},
				{"fledge_notifications_sent_total", map[string]string{"provider": "install-app/team-webhook"}},
				{"fledge_notifications_failed_total", map[string]string{"provider": "install-bad/dead-webhook"}},
				{"controller_runtime_reconcile_total", map[string]string{"controller": "canary"}},
				{"controller_runtime_reconcile_errors_total", map[string]string{"controller": "canary"}},
				{"workqueue_depth", map[string]string{"name": "canary"}},
			} {
				g.Expect(hasSample(families, s.family, s.labels)).To(BeTrue(), "no %s%v", s.family, s.labels)
			}
		}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())
	})

	It("is scraped by Prometheus as config/prometheus says, and its alerts see the abort", func(ctx context.Context) {
		Eventually(prom.targetHealth).WithContext(ctx).WithTimeout(30 * time.Second).Should(Equal("up"))

		// Prometheus loaded every alert of rules.yaml and evaluates each without error; those
		// about what the abort did are active (pending until their for: has passed).
		groups, err := writeRuleFile(filepath.Join(work, "alerts-check.yaml"))
		Expect(err).NotTo(HaveOccurred())
		var alerts []string
		for _, g := range groups.Groups {
			for _, r := range g.Rules {
				alerts = append(alerts, r.Alert)
			}
		}
		active := []string{"FledgeRolloutFailed", "FledgeAnalysisProviderUnreachable", "FledgeNotificationsFailing"}
		quiet := []string{"FledgeRolloutStuck", "FledgeManagerDown"}
		Eventually(func(g Gomega) {
			loaded, err := prom.alertRules(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(loaded).To(HaveLen(len(alerts)))
			for _, name := range alerts {
				g.Expect(loaded).To(HaveKey(name))
				g.Expect(loaded[name].Health).To(BeEquivalentTo(promv1.RuleHealthGood), "%s: %s", name, loaded[name].LastError)
			}
			for _, name := range active {
				g.Expect(loaded[name].State).To(BeElementOf("pending", "firing"), "the state of %s", name)
			}
			for _, name := range quiet {
				g.Expect(loaded[name].State).To(Equal("inactive"), "the state of %s", name)
			}
		}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())
	})

	It("has a dashboard and alerts that use only the series it exports, and show them", func(ctx context.Context) {
		body, err := scrape(metricsURL, serviceAccountToken(ctx, managerNamespace, "scraper"))
		Expect(err).NotTo(HaveOccurred())
		served, _, err := servedMetrics(body)
		Expect(err).NotTo(HaveOccurred())
		// What the source declares, including series no rollout has produced yet.
		declared, err := declaredMetrics("controllers/metrics.go", "controllers/alerts/dispatcher.go")
		Expect(err).NotTo(HaveOccurred())
		Expect(declared).NotTo(BeEmpty())
		for name := range served {
			if strings.HasPrefix(name, "fledge_") {
				Expect(declared).To(HaveKey(name), "the manager serves %s, which controllers/ does not declare where this test looks", name)
			}
		}
		// up is Prometheus's own, for every target it scrapes.
		exported := map[string]bool{"up": true}
		for name := range served {
			exported[name] = true
		}
		for name := range declared {
			exported[name] = true
		}

		queries, err := dashboardQueries()
		Expect(err).NotTo(HaveOccurred())
		Expect(queries).NotTo(BeEmpty())
		groups, err := writeRuleFile(filepath.Join(work, "alerts-names.yaml"))
		Expect(err).NotTo(HaveOccurred())
		for _, g := range groups.Groups {
			for _, r := range g.Rules {
				queries = append(queries, dashboardQuery{Where: "alert " + r.Alert, Expr: r.Expr})
			}
		}
		used := map[string]bool{}
		for _, q := range queries {
			names, err := prom.metricNames(ctx, grafanaExpand(q.Expr))
			Expect(err).NotTo(HaveOccurred(), q.Where)
			Expect(names).NotTo(BeEmpty(), q.Where)
			for _, name := range names {
				Expect(exported).To(HaveKey(name), "%s uses %s, which the manager does not export", q.Where, name)
				used[name] = true
			}
		}
		// And the other way round: each of Fledge's own metrics has a panel or an alert.
		for name := range declared {
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
			Expect(used).To(Or(HaveKey(name), HaveKey(base+"_bucket"), HaveKey(base+"_count"), HaveKey(base+"_sum")), "nothing shows %s", name)
		}

		// After a promotion and an abort, every query has something to show.
		dashboard, err := dashboardQueries()
		Expect(err).NotTo(HaveOccurred())
		for _, q := range dashboard {
			Eventually(prom.query).WithContext(ctx).WithArguments(grafanaExpand(q.Expr)).WithTimeout(30*time.Second).
				Should(BeNumerically(">", 0), "%s: %s", q.Where, q.Expr)
		}
	})

	It("rolls out with every feature under its ServiceAccount's rights, and deleting the Canaries leaves nothing behind", func(ctx context.Context) {
		const ns = "install-features"
		createNamespace(ctx, ns)
		// Checks on a template that reads Prometheus with the credentials of a Secret.
		createAlwaysOne(ctx, ns, prom)
		// News through a Slack bot, whose token is in a Secret.
		create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "slack"}, StringData: map[string]string{"token": fakeslack.Token}})
		create(ctx, &fledgev1alpha1.AlertProvider{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "team-slack"},
			Spec:       fledgev1alpha1.AlertProviderSpec{Channel: fakeslack.Channel, BotToken: &fledgev1alpha1.SecretKeyRef{SecretName: "slack", Key: "token"}},
		})
		ceiling, insider, qa := 5.0, "insider", "qa"
		analysisWith := func(change func(*fledgev1alpha1.CanaryAnalysis)) fledgev1alpha1.CanaryAnalysis {
			a := fledgev1alpha1.CanaryAnalysis{
				Interval: &metav1.Duration{Duration: time.Second}, Threshold: 2,
				Metrics: []fledgev1alpha1.CanaryMetric{{
					Name: "always-one", TemplateRef: &fledgev1alpha1.MetricTemplateRef{Name: "always-one"},
					ThresholdRange: &fledgev1alpha1.ThresholdRange{Max: &ceiling},
				}},
				Alerts: []fledgev1alpha1.CanaryAlert{{ProviderRef: fledgev1alpha1.AlertProviderRef{Name: "team-slack"}}},
			}
			change(&a)
			return a
		}
		canaryOn := func(target string, change func(*fledgev1alpha1.CanaryAnalysis)) *fledgev1alpha1.Canary {
			return &fledgev1alpha1.Canary{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: target},
				Spec: fledgev1alpha1.CanarySpec{
					TargetRef: fledgev1alpha1.TargetRef{Name: target},
					Service:   fledgev1alpha1.CanaryService{Port: 80, TargetPort: 8080},
					Analysis:  analysisWith(change),
				},
			}
		}

		By("an A/B test by header, with testers")
		create(ctx, target(ns, "ab", nil))
		create(ctx, canaryOn("ab", func(a *fledgev1alpha1.CanaryAnalysis) {
			a.Iterations = ptr.To[int32](2)
			a.Match = []fledgev1alpha1.HTTPMatch{{Headers: map[string]fledgev1alpha1.StringMatch{"x-canary": {Exact: &insider}}}}
			a.Testers = []fledgev1alpha1.HTTPMatch{{Headers: map[string]fledgev1alpha1.StringMatch{"x-team": {Exact: &qa}}}}
		}))

		By("mirroring, then weights with session affinity, testers and a fault-injection gate")
		create(ctx, target(ns, "payments", nil))
		create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "payments"},
			Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "payments"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
		})
		create(ctx, target(ns, "shop", nil))
		create(ctx, canaryOn("shop", func(a *fledgev1alpha1.CanaryAnalysis) {
			a.StepWeights = []int32{20, 50}
			a.Iterations = ptr.To[int32](1)
			a.Mirror = &fledgev1alpha1.Mirror{Percentage: 50}
			a.SessionAffinity = &fledgev1alpha1.SessionAffinity{}
			a.Testers = []fledgev1alpha1.HTTPMatch{{Headers: map[string]fledgev1alpha1.StringMatch{"x-team": {Exact: &qa}}}}
			a.FaultInjection = &fledgev1alpha1.FaultInjection{
				Dependency: "payments", Iterations: 1,
				Abort: &fledgev1alpha1.FaultAbort{HTTPStatus: 503, Percentage: 50},
			}
		}))

		By("the user's own version-labelled Deployments and subsets")
		for _, version := range []string{"v1", "v2"} {
			create(ctx, versioned(ns, "cart", version))
		}
		create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cart"},
			Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "cart"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
		})
		create(ctx, userDestinationRule(ns, "cart"))
		create(ctx, &fledgev1alpha1.Canary{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cart"},
			Spec: fledgev1alpha1.CanarySpec{
				TargetRef: fledgev1alpha1.TargetRef{Name: "cart-v2"},
				Service:   fledgev1alpha1.CanaryService{Name: "cart"},
				Subsets:   &fledgev1alpha1.ExistingSubsets{DestinationRule: "cart", Stable: "v1", Candidate: "v2"},
				Analysis:  analysisWith(func(*fledgev1alpha1.CanaryAnalysis) {}),
			},
		})

		waitPhase(ctx, ns, "ab", fledgev1alpha1.PhaseInitialized)
		waitPhase(ctx, ns, "shop", fledgev1alpha1.PhaseInitialized)
		release(ctx, ns, "ab", "example.com/ab:v2")
		release(ctx, ns, "shop", "example.com/shop:v2")
		By("the fault gate injecting faults into the calls to payments, then removing them")
		faults := &istionetworkingv1.VirtualService{}
		Eventually(func() error {
			return k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "shop-fledge-faults"}, faults)
		}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())
		Expect(faults.Spec.ExportTo).To(Equal([]string{"."}), "the faults reach the calls from the Canary's own namespace only")
		for _, name := range []string{"ab", "shop", "cart"} {
			waitPhase(ctx, ns, name, fledgev1alpha1.PhaseSucceeded)
		}
		Eventually(func() bool {
			err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "shop-fledge-faults"}, &istionetworkingv1.VirtualService{})
			return apierrors.IsNotFound(err)
		}).WithContext(ctx).Should(BeTrue(), "the injected faults were removed")
		Eventually(func() []fakeslack.Message { return slackBot.TopLevelIn(fakeslack.Channel) }).WithContext(ctx).
			Should(HaveLen(3), "one Slack message per rollout")

		By("deleting every Canary")
		for _, name := range []string{"ab", "shop", "cart"} {
			Expect(k8s.Delete(ctx, &fledgev1alpha1.Canary{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})).To(Succeed())
		}
		Eventually(func(g Gomega) {
			canaries := &fledgev1alpha1.CanaryList{}
			g.Expect(k8s.List(ctx, canaries, client.InNamespace(ns))).To(Succeed())
			g.Expect(canaries.Items).To(BeEmpty(), "a finalizer could not finish")
		}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())
		// Nothing is left that names a Canary: what Fledge keeps is disowned, what it owned
		// the garbage collector removes, and no finalizer of Fledge's holds anything.
		Eventually(func(g Gomega) {
			for _, list := range []client.ObjectList{&appsv1.DeploymentList{}, &corev1.ServiceList{}, &istionetworkingv1.VirtualServiceList{}, &istionetworkingv1.DestinationRuleList{}} {
				g.Expect(k8s.List(ctx, list, client.InNamespace(ns))).To(Succeed())
				items, err := meta.ExtractList(list)
				g.Expect(err).NotTo(HaveOccurred())
				for _, item := range items {
					obj := item.(client.Object)
					for _, ref := range obj.GetOwnerReferences() {
						g.Expect(ref.Kind).NotTo(Equal("Canary"), "%T %s is still owned by Canary %s", obj, obj.GetName(), ref.Name)
					}
					g.Expect(obj.GetFinalizers()).NotTo(ContainElement(ContainSubstring("fledge")), "%T %s", obj, obj.GetName())
				}
			}
		}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "shop-fledge-faults"}, &istionetworkingv1.VirtualService{})).
			To(Satisfy(apierrors.IsNotFound), "the injected faults outlived the Canary")

		By("the events of the rollouts hold no refusal")
		events := &eventsv1.EventList{}
		Expect(k8s.List(ctx, events, client.InNamespace(ns))).To(Succeed())
		Expect(events.Items).NotTo(BeEmpty())
		for _, e := range events.Items {
			Expect(forbidden.MatchString(e.Note)).To(BeFalse(), "event %s on %s: %s", e.Reason, e.Regarding.Name, e.Note)
		}
	})

	It("hands a Canary's Deployment back when the Canary is deleted", func(ctx context.Context) {
		const ns = "install-app"
		Expect(k8s.Delete(ctx, &fledgev1alpha1.Canary{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}})).To(Succeed())
		Eventually(func() error {
			return k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &fledgev1alpha1.Canary{})
		}).WithContext(ctx).WithTimeout(time.Minute).Should(Satisfy(apierrors.IsNotFound))
		// The finalizer disowned the primary and its copies, so that they outlive the Canary.
		for _, obj := range []client.Object{&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web-primary"}},
			&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "web-config-primary"}},
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "web-secret-primary"}}} {
			Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: obj.GetName()}, obj)).To(Succeed())
			Expect(obj.GetOwnerReferences()).To(BeEmpty(), obj.GetName())
		}
	})

	It("was never refused anything by the API server", func() {
		Expect(manager.Running()).To(Succeed())
		log, err := manager.Log()
		Expect(err).NotTo(HaveOccurred())
		// The manager did real work in these specs, with this log.
		Expect(log).To(ContainSubstring("transition"))
		var refused []string
		for _, line := range strings.Split(log, "\n") {
			// The refusals of the namespace no administrator enabled are that spec's point.
			if forbidden.MatchString(line) && !strings.Contains(line, `"namespace":"install-not-enabled"`) {
				refused = append(refused, line)
			}
		}
		Expect(refused).To(BeEmpty(), "the manager needed rights config/rbac does not grant")
	})
})

// forbidden matches the API server's refusals as client-go and controller-runtime log them
// ("... is forbidden: User \"system:serviceaccount:...\" cannot list resource ...").
var forbidden = regexp.MustCompile(`(?i)forbidden|cannot (get|list|watch|create|update|patch|delete)`)

// containerArgsList returns the args of the Deployment's container, in order.
func containerArgsList(d *unstructured.Unstructured) ([]string, error) {
	containers, _, err := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	if err != nil || len(containers) != 1 {
		return nil, fmt.Errorf("want one container, got %d (%v)", len(containers), err)
	}
	args, _, err := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
	return args, err
}

// asManager is a client that acts as the manager's ServiceAccount (impersonated by the
// administrator): its RBAC rights, and the admission policies that apply to it.
func asManager() client.Client {
	GinkgoHelper()
	cfg := rest.CopyConfig(stack.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: managerUser}
	c, err := client.New(cfg, client.Options{Scheme: stack.Scheme})
	Expect(err).NotTo(HaveOccurred())
	return c
}

func createNamespace(ctx context.Context, name string) {
	GinkgoHelper()
	create(ctx, cluster.EnabledNamespace(name))
}

func create(ctx context.Context, obj client.Object) {
	GinkgoHelper()
	Expect(k8s.Create(ctx, obj)).To(Succeed())
}

func createServiceAccount(ctx context.Context, name string) {
	GinkgoHelper()
	create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: managerNamespace, Name: name}})
}

// bindMetricsReader creates a ServiceAccount and binds it to config/default's metrics-reader,
// as config/prometheus binds Prometheus's.
func bindMetricsReader(ctx context.Context, name string) {
	GinkgoHelper()
	createServiceAccount(ctx, name)
	create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "install-test-" + name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "fledge-metrics-reader"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: managerNamespace}},
	})
}

// target is a Deployment of two replicas, image v1.
func target(ns, name string, change func(*corev1.PodSpec)) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: name, Image: "example.com/" + name + ":v1", Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
				}}},
			},
		},
	}
	if change != nil {
		change(&d.Spec.Template.Spec)
	}
	return d
}

// createAlwaysOne creates the MetricTemplate always-one, whose query (vector(1)) asks the
// suite's Prometheus with the credentials of the Secret prometheus.
func createAlwaysOne(ctx context.Context, ns string, prom *promServer) {
	GinkgoHelper()
	create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "prometheus"}, StringData: map[string]string{"username": prom.Username, "password": prom.Password}})
	create(ctx, &fledgev1alpha1.MetricTemplate{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "always-one"},
		Spec: fledgev1alpha1.MetricTemplateSpec{
			Provider: fledgev1alpha1.MetricProvider{Address: prom.URL, SecretRef: &fledgev1alpha1.LocalSecretReference{Name: "prometheus"}},
			Query:    "vector(1)",
		},
	})
}

// versioned is one version of the user's own version-labelled Deployments (app: name,
// version: version), for a Canary on existing subsets.
func versioned(ns, name, version string) *appsv1.Deployment {
	d := target(ns, name+"-"+version, nil)
	labels := map[string]string{"app": name, "version": version}
	d.Spec.Selector.MatchLabels = labels
	d.Spec.Template.Labels = labels
	return d
}

// userDestinationRule is the user's DestinationRule with the subsets v1 and v2 by version.
func userDestinationRule(ns, host string) *istionetworkingv1.DestinationRule {
	dr := &istionetworkingv1.DestinationRule{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: host}}
	dr.Spec.Host = host
	dr.Spec.Subsets = []*istioapiv1.Subset{
		{Name: "v1", Labels: map[string]string{"version": "v1"}},
		{Name: "v2", Labels: map[string]string{"version": "v2"}},
	}
	return dr
}

// release changes the image of the target: a new revision to roll out.
func release(ctx context.Context, ns, name, image string) {
	canarytest.SetImage(ctx, k8s, client.ObjectKey{Namespace: ns, Name: name}, image)
}

func waitPhase(ctx context.Context, ns, name string, phase fledgev1alpha1.CanaryPhase) *fledgev1alpha1.Canary {
	return canarytest.WaitPhase(ctx, k8s, client.ObjectKey{Namespace: ns, Name: name}, phase)
}

func isConfigMap(obj client.Object) bool {
	_, ok := obj.(*corev1.ConfigMap)
	return ok
}

// verifying reaches the manager's metrics endpoint and verifies its certificate (set in
// BeforeAll, once the certificate is issued).
var verifying *http.Client

// scrape reads url with token (none when empty), and fails unless the answer is 200 OK.
func scrape(url, token string) (string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := loopback
	if strings.HasPrefix(url, "https://") {
		c = verifying
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return string(body), nil
}

func get(url, token string) error {
	_, err := scrape(url, token)
	return err
}

func writeFile(path, content string) error {
	return os.WriteFile(path, []byte(content), 0o600)
}
