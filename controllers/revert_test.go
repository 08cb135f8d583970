package controllers_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"fledge.dev/fledge/analysis"
	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/test/cluster"
)

// kubectlApplied is what `kubectl apply` leaves on what it applied.
var kubectlApplied = map[string]string{corev1.LastAppliedConfigAnnotation: `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"}}`}

var _ = Describe("deleting a Canary with revertOnDeletion", func() {
	// newRevertingApp creates the user's own Service for the app, then the app with a Canary
	// that reverts on deletion.
	newRevertingApp := func(ctx context.Context) *app {
		ns := "revert-" + rand.String(5)
		Expect(k8s.Create(ctx, cluster.EnabledNamespace(ns))).To(Succeed())
		Expect(k8s.Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web", Annotations: kubectlApplied},
			Spec: corev1.ServiceSpec{
				Selector: map[string]string{"app": "web"},
				Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
			},
		})).To(Succeed())
		return newAppIn(ctx, ns, canaryOption(func(c *fledgev1alpha1.Canary) { c.Spec.RevertOnDeletion = true }),
			func(_ *fledgev1alpha1.Canary, d *appsv1.Deployment) { d.Annotations = kubectlApplied })
	}
	deleted := func(ctx context.Context, a *app) func() bool {
		return func() bool { return apierrors.IsNotFound(k8s.Get(ctx, a.key(), &fledgev1alpha1.Canary{})) }
	}

	It("gives the application back to the target: its replicas, the user's Service selector, no routes of Fledge's", func(ctx context.Context) {
		a := newRevertingApp(ctx)
		a.setImage(ctx, "example.com/web:v2")
		a.waitPhase(ctx, fledgev1alpha1.PhaseSucceeded)
		Expect(*a.deployment(ctx, "web").Spec.Replicas).To(BeZero(), "while the Canary runs, the target is kept at zero")

		Expect(k8s.Delete(ctx, a.canary)).To(Succeed())
		Eventually(deleted(ctx, a)).WithContext(ctx).WithTimeout(time.Minute).Should(BeTrue())

		target := a.deployment(ctx, "web")
		Expect(*target.Spec.Replicas).To(Equal(int32(2)), "the target runs the primary's replicas")
		Expect(target.Status.AvailableReplicas).To(Equal(int32(2)), "the target serves")
		Expect(target.Spec.Template.Spec.Containers[0].Image).To(Equal("example.com/web:v2"))
		svc := &corev1.Service{}
		Expect(k8s.Get(ctx, a.key(), svc)).To(Succeed())
		Expect(svc.Spec.Selector).To(Equal(map[string]string{"app": "web"}), "the user's own selector")
		Expect(svc.Labels).NotTo(HaveKey("fledge.dev/canary"))
		Expect(svc.Annotations).NotTo(HaveKey("fledge.dev/original-selector"))
		Expect(svc.OwnerReferences).To(BeEmpty(), "the user's Service outlives the Canary")
		// The cache drops kubectl's copy of a target (trimForCache); the server keeps it, on the
		// target and on the Service Fledge adopted and gave back.
		Expect(target.Annotations).To(HaveKeyWithValue(corev1.LastAppliedConfigAnnotation, kubectlApplied[corev1.LastAppliedConfigAnnotation]))
		Expect(svc.Annotations).To(HaveKeyWithValue(corev1.LastAppliedConfigAnnotation, kubectlApplied[corev1.LastAppliedConfigAnnotation]))
		Expect(apierrors.IsNotFound(k8s.Get(ctx, a.key(), &istionetworkingv1.VirtualService{}))).To(BeTrue(), "Fledge's VirtualService is gone")
		Expect(apierrors.IsNotFound(k8s.Get(ctx, a.key(), &istionetworkingv1.DestinationRule{}))).To(BeTrue(), "Fledge's DestinationRule is gone")
		Eventually(func() bool {
			return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Namespace: a.ns, Name: "web-primary"}, &appsv1.Deployment{}))
		}).WithContext(ctx).Should(BeTrue(), "the primary goes with the Canary")
	})

	It("does not revert to a revision that was aborted: the primary keeps serving, and an event says why", func(ctx context.Context) {
		a := newRevertingApp(ctx)
		checks.script(a.canary, analysis.Result{Verdict: analysis.Fail, Message: "error rate 30%"})
		a.setImage(ctx, "example.com/web:bad")
		a.waitPhase(ctx, fledgev1alpha1.PhaseFailed)

		Expect(k8s.Delete(ctx, a.canary)).To(Succeed())
		Eventually(deleted(ctx, a)).WithContext(ctx).WithTimeout(time.Minute).Should(BeTrue())
		Eventually(func() []string { return a.eventReasons(ctx) }).WithContext(ctx).Should(ContainElement(fledgev1alpha1.ReasonNotReverted))
		Expect(*a.deployment(ctx, "web").Spec.Replicas).To(BeZero(), "the aborted revision was not scaled up")
		primary := a.deployment(ctx, "web-primary")
		Expect(primary.OwnerReferences).To(BeEmpty())
		Expect(primary.Spec.Template.Spec.Containers[0].Image).To(Equal("example.com/web:v1"))
		vs := a.virtualService(ctx)
		Expect(vs.Spec.Http[0].Route).To(HaveLen(1))
		Expect(vs.Spec.Http[0].Route[0].Destination.Subset).To(Equal("primary"))
	})
})
