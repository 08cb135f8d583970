package install_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	istioapiv1 "istio.io/api/networking/v1"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/router"
	"fledge.dev/fledge/test/fakeslack"
)

// Two tenants of one cluster: A tries to use what is B's.
const (
	tenantA, tenantB = "install-tenant-a", "install-tenant-b"
	channelOfB       = "C0TENANTB"
)

// borrowAcrossTenants is a spec of the install suite (prom its Prometheus, slack its fake
// Slack): tenant A's Canaries name tenant B's MetricTemplate (which queries with B's
// Prometheus credentials), B's Slack provider (B's bot token), B's Service among their mesh
// hosts, and B's Gateway. Each is refused, saying what to change, until B's owners share it;
// then it serves A. A's routes are exported no further than A's Service.
func borrowAcrossTenants(ctx context.Context, prom *promServer, slack *fakeslack.Server) {
	createNamespace(ctx, tenantA)
	createNamespace(ctx, tenantB)
	createAlwaysOne(ctx, tenantB, prom)
	create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: tenantB, Name: "slack"}, StringData: map[string]string{"token": fakeslack.Token}})
	create(ctx, &fledgev1alpha1.AlertProvider{
		ObjectMeta: metav1.ObjectMeta{Namespace: tenantB, Name: "team-b"},
		Spec:       fledgev1alpha1.AlertProviderSpec{Channel: channelOfB, BotToken: &fledgev1alpha1.SecretKeyRef{SecretName: "slack", Key: "token"}},
	})
	gateway := &istionetworkingv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: tenantB, Name: "public"}}
	gateway.Spec.Servers = []*istioapiv1.Server{{Port: &istioapiv1.Port{Number: 80, Name: "http", Protocol: "HTTP"}, Hosts: []string{"*/shop.example.com"}}}
	create(ctx, gateway)

	By("measuring with B's template and posting through B's Slack")
	create(ctx, target(tenantA, "borrower", nil))
	ceiling := 5.0
	create(ctx, &fledgev1alpha1.Canary{
		ObjectMeta: metav1.ObjectMeta{Namespace: tenantA, Name: "borrower"},
		Spec: fledgev1alpha1.CanarySpec{
			TargetRef: fledgev1alpha1.TargetRef{Name: "borrower"},
			Service:   fledgev1alpha1.CanaryService{Port: 80, TargetPort: 8080},
			Analysis: fledgev1alpha1.CanaryAnalysis{
				Interval: &metav1.Duration{Duration: time.Second}, Threshold: 2,
				Metrics: []fledgev1alpha1.CanaryMetric{{
					Name: "always-one", TemplateRef: &fledgev1alpha1.MetricTemplateRef{Namespace: tenantB, Name: "always-one"},
					ThresholdRange: &fledgev1alpha1.ThresholdRange{Max: &ceiling},
				}},
				Alerts: []fledgev1alpha1.CanaryAlert{{ProviderRef: fledgev1alpha1.AlertProviderRef{Namespace: tenantB, Name: "team-b"}}},
			},
		},
	})
	waitPhase(ctx, tenantA, "borrower", fledgev1alpha1.PhaseInitialized)
	release(ctx, tenantA, "borrower", "example.com/borrower:v2")
	c := waitPhase(ctx, tenantA, "borrower", fledgev1alpha1.PhaseFailed)
	Expect(c.Status.Message).To(ContainSubstring(`MetricTemplate ` + tenantB + `/always-one is not shared with namespace ` + tenantA +
		`: its owners may add "` + tenantA + `" to its spec.sharedWith`))
	Eventually(func() string {
		return providerOf(ctx, tenantA, "borrower", tenantB+"/team-b").LastError
	}).WithContext(ctx).WithTimeout(30*time.Second).Should(Equal(`AlertProvider `+tenantB+`/team-b is not shared with namespace `+tenantA+
		`: its owners may add "`+tenantA+`" to its spec.sharedWith`), "the notifications to B's provider are given up, saying why")
	Expect(slack.TopLevelIn(channelOfB)).To(BeEmpty(), "nothing was posted with B's bot token")

	By("B sharing its template and its provider with A: the next rollout measures and posts")
	template, provider := &fledgev1alpha1.MetricTemplate{}, &fledgev1alpha1.AlertProvider{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: tenantB, Name: "always-one"}, template)).To(Succeed())
	template.Spec.SharedWith = []string{tenantA}
	Expect(k8s.Update(ctx, template)).To(Succeed())
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: tenantB, Name: "team-b"}, provider)).To(Succeed())
	provider.Spec.SharedWith = []string{tenantA}
	Expect(k8s.Update(ctx, provider)).To(Succeed())
	release(ctx, tenantA, "borrower", "example.com/borrower:v3")
	waitPhase(ctx, tenantA, "borrower", fledgev1alpha1.PhaseSucceeded)
	Eventually(func() []fakeslack.Message { return slack.TopLevelIn(channelOfB) }).WithContext(ctx).WithTimeout(30*time.Second).
		Should(HaveLen(1), "the shared provider tells B's channel of the rollout")

	By("taking the calls to B's Service from the mesh")
	create(ctx, target(tenantA, "hijacker", nil))
	create(ctx, &fledgev1alpha1.Canary{
		ObjectMeta: metav1.ObjectMeta{Namespace: tenantA, Name: "hijacker"},
		Spec: fledgev1alpha1.CanarySpec{
			TargetRef: fledgev1alpha1.TargetRef{Name: "hijacker"},
			Service:   fledgev1alpha1.CanaryService{Port: 80, TargetPort: 8080, Hosts: []string{"hijacker", "payments." + tenantB + ".svc.cluster.local"}},
		},
	})
	Eventually(func() metav1.Condition { return readyOf(ctx, tenantA, "hijacker") }).WithContext(ctx).WithTimeout(30 * time.Second).
		Should(And(
			HaveField("Reason", fledgev1alpha1.ReasonInvalidRoutes),
			HaveField("Message", ContainSubstring(`spec.service.hosts[1]: Invalid value: "payments.`+tenantB+`.svc.cluster.local": a VirtualService bound to the mesh takes this host's calls from every namespace, and it is not a name of this Canary's Service: use hijacker, hijacker.`+tenantA)),
		))
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: tenantA, Name: "hijacker"}, &istionetworkingv1.VirtualService{})).
		To(MatchError(ContainSubstring("not found")), "no route was written")

	By("publishing through B's Gateway, from a Service that A exports to its own namespace and B's only")
	create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: tenantA, Name: "publisher", Annotations: map[string]string{router.AnnotationExportTo: "., " + tenantB}},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "publisher"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
	})
	create(ctx, target(tenantA, "publisher", nil))
	create(ctx, &fledgev1alpha1.Canary{
		ObjectMeta: metav1.ObjectMeta{Namespace: tenantA, Name: "publisher"},
		Spec: fledgev1alpha1.CanarySpec{
			TargetRef: fledgev1alpha1.TargetRef{Name: "publisher"},
			Service:   fledgev1alpha1.CanaryService{Port: 80, TargetPort: 8080, Hosts: []string{"shop.example.com"}, Gateways: []string{tenantB + "/public"}},
		},
	})
	Eventually(func() metav1.Condition { return readyOf(ctx, tenantA, "publisher") }).WithContext(ctx).WithTimeout(30 * time.Second).
		Should(And(
			HaveField("Reason", fledgev1alpha1.ReasonApplyFailed),
			HaveField("Message", ContainSubstring(`Gateway `+tenantB+`/public is not shared with namespace `+tenantA+`: its owners may annotate it fledge.dev/shared-with=`+tenantA)),
		))
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: tenantA, Name: "publisher"}, &istionetworkingv1.VirtualService{})).
		To(MatchError(ContainSubstring("not found")), "no route was written")

	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: tenantB, Name: "public"}, gateway)).To(Succeed())
	gateway.Annotations = map[string]string{router.AnnotationSharedWith: "someone-else, " + tenantA}
	Expect(k8s.Update(ctx, gateway)).To(Succeed())
	// The Gateway is not watched: the Canary's retry after its failure finds it shared.
	Eventually(func() fledgev1alpha1.CanaryPhase {
		c := &fledgev1alpha1.Canary{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: tenantA, Name: "publisher"}, c)).To(Succeed())
		return c.Status.Phase
	}).WithContext(ctx).WithTimeout(2 * time.Minute).Should(Equal(fledgev1alpha1.PhaseInitialized))
	vs, dr := &istionetworkingv1.VirtualService{}, &istionetworkingv1.DestinationRule{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: tenantA, Name: "publisher"}, vs)).To(Succeed())
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: tenantA, Name: "publisher"}, dr)).To(Succeed())
	Expect(vs.Spec.Gateways).To(Equal([]string{tenantB + "/public"}))
	Expect(vs.Spec.ExportTo).To(Equal([]string{".", tenantB}), "the routes are exported as the Service is")
	Expect(dr.Spec.ExportTo).To(Equal([]string{".", tenantB}), "the subsets are exported as the Service is")
}

func readyOf(ctx context.Context, ns, name string) metav1.Condition {
	c := &fledgev1alpha1.Canary{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
	if ready := apimeta.FindStatusCondition(c.Status.Conditions, fledgev1alpha1.ConditionReady); ready != nil {
		return *ready
	}
	return metav1.Condition{}
}

func providerOf(ctx context.Context, ns, name, provider string) fledgev1alpha1.ProviderDelivery {
	c := &fledgev1alpha1.Canary{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, c)).To(Succeed())
	if c.Status.Notifications != nil {
		for _, p := range c.Status.Notifications.Providers {
			if p.Provider == provider {
				return p
			}
		}
	}
	return fledgev1alpha1.ProviderDelivery{}
}
