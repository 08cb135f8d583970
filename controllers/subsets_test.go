package controllers_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"
	istioapiv1 "istio.io/api/networking/v1"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/test/cluster"
)

var _ = Describe("a Canary on the user's own subsets", func() {
	var ns string
	var userDR *istioapiv1.DestinationRule

	BeforeEach(func(ctx context.Context) {
		ns = "subsets-" + rand.String(5)
		Expect(k8s.Create(ctx, cluster.EnabledNamespace(ns))).To(Succeed())
		for _, version := range []string{"v1", "v2"} {
			labels := map[string]string{"app": "shop", "version": version}
			Expect(k8s.Create(ctx, &appsv1.Deployment{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shop-" + version},
				Spec: appsv1.DeploymentSpec{
					Replicas: ptrTo[int32](2),
					Selector: &metav1.LabelSelector{MatchLabels: labels},
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: labels},
						Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "shop", Image: "example.com/shop:" + version}}},
					},
				},
			})).To(Succeed())
		}
		Expect(k8s.Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shop"},
			Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "shop"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
		})).To(Succeed())
		userDR = &istioapiv1.DestinationRule{
			Host: "shop",
			Subsets: []*istioapiv1.Subset{
				{Name: "v1", Labels: map[string]string{"version": "v1"}},
				{Name: "v2", Labels: map[string]string{"version": "v2"}},
			},
		}
		dr := &istionetworkingv1.DestinationRule{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shop"}}
		proto.Merge(&dr.Spec, userDR)
		Expect(k8s.Create(ctx, dr)).To(Succeed())
	})

	canaryFor := func(candidate string) *fledgev1alpha1.Canary {
		return &fledgev1alpha1.Canary{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shop"},
			Spec: fledgev1alpha1.CanarySpec{
				TargetRef: fledgev1alpha1.TargetRef{Name: "shop-v2"},
				Service:   fledgev1alpha1.CanaryService{Name: "shop"},
				Subsets:   &fledgev1alpha1.ExistingSubsets{DestinationRule: "shop", Stable: "v1", Candidate: candidate},
				Analysis:  fledgev1alpha1.CanaryAnalysis{Interval: &metav1.Duration{Duration: time.Second}, Threshold: 2},
			},
		}
	}

	It("exports its VirtualService as the user's Service is exported", func(ctx context.Context) {
		svc := &corev1.Service{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "shop"}, svc)).To(Succeed())
		svc.Annotations = map[string]string{"networking.istio.io/exportTo": "."}
		Expect(k8s.Update(ctx, svc)).To(Succeed())
		a := &app{ns: ns, name: "shop"}
		a.canary = canaryFor("v2")
		Expect(k8s.Create(ctx, a.canary)).To(Succeed())
		Eventually(func(g Gomega) {
			vs := &istionetworkingv1.VirtualService{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "shop"}, vs)).To(Succeed())
			g.Expect(vs.Spec.ExportTo).To(Equal([]string{"."}))
		}).WithContext(ctx).Should(Succeed())
	})

	It("shifts the weights from stable to candidate, leaves all traffic on the candidate, and touches nothing else", func(ctx context.Context) {
		a := &app{ns: ns, name: "shop"}
		a.canary = canaryFor("v2")
		Expect(k8s.Create(ctx, a.canary)).To(Succeed())
		// Two reconciles away (the finalizer, then the routes): more than Eventually's default second on a busy machine.
		Eventually(func() error { return k8s.Get(ctx, a.key(), &istionetworkingv1.VirtualService{}) }).WithContext(ctx).WithTimeout(30 * time.Second).Should(Succeed())
		weights := a.recordWeights()

		c := a.waitPhase(ctx, fledgev1alpha1.PhaseSucceeded)
		Expect(c.Status.CanaryWeight).To(Equal(int32(100)))
		Eventually(weights.sequence).Should(ContainElement("0/100"))
		Expect(weights.sequence()[len(weights.sequence())-1]).To(Equal("0/100"), "all traffic stays on the candidate")
		vs := a.virtualService(ctx)
		Expect(vs.Spec.Http[0].Route[0].Destination.Subset).To(Equal("v1"))
		Expect(vs.Spec.Http[0].Route[1].Destination.Subset).To(Equal("v2"))

		By("leaving the user's Deployments, Service and DestinationRule as they were")
		Expect(*a.deployment(ctx, "shop-v2").Spec.Replicas).To(Equal(int32(2)))
		Expect(*a.deployment(ctx, "shop-v1").Spec.Replicas).To(Equal(int32(2)))
		Expect(apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "shop-v2-primary"}, &appsv1.Deployment{}))).To(BeTrue())
		var svc corev1.Service
		Expect(k8s.Get(ctx, a.key(), &svc)).To(Succeed())
		Expect(svc.Spec.Selector).To(Equal(map[string]string{"app": "shop"}))
		var dr istionetworkingv1.DestinationRule
		Expect(k8s.Get(ctx, a.key(), &dr)).To(Succeed())
		Expect(proto.Equal(&dr.Spec, userDR)).To(BeTrue())
		Expect(dr.Labels).To(BeEmpty())
	})

	It("says which subset is missing instead of routing to it", func(ctx context.Context) {
		a := &app{ns: ns, name: "shop"}
		a.canary = canaryFor("v3")
		Expect(k8s.Create(ctx, a.canary)).To(Succeed())
		Eventually(func(g Gomega) {
			ready := meta(a.get(ctx), fledgev1alpha1.ConditionReady)
			g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(ready.Message).To(ContainSubstring(`has no subset "v3": add it, or fix spec.subsets.candidate`))
		}).WithContext(ctx).WithTimeout(30 * time.Second).Should(Succeed())
		Expect(apierrors.IsNotFound(k8s.Get(ctx, a.key(), &istionetworkingv1.VirtualService{}))).To(BeTrue())
	})
})
