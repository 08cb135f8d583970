package controllers_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/test/cluster"
)

var _ = Describe("the ConfigMaps and Secrets of the target", func() {
	It("are frozen for the primary, and a change of their content is rolled out like a new image", func(ctx context.Context) {
		ns := "configs-" + rand.String(5)
		Expect(k8s.Create(ctx, cluster.EnabledNamespace(ns))).To(Succeed())
		Expect(k8s.Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-config"},
			Data:       map[string]string{"greeting": "hello"},
		})).To(Succeed())
		Expect(k8s.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-secret"},
			StringData: map[string]string{"token": "s3cr3t"},
		})).To(Succeed())
		a := newAppIn(ctx, ns, withTemplate(func(t *corev1.PodTemplateSpec) {
			t.Spec.Volumes = []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{
				ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "web-config"}},
			}}}
			t.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "web-secret"}}}}
		}), withInterval(time.Second))

		By("pointing the primary at copies of them")
		primary := a.deployment(ctx, "web-primary")
		Expect(primary.Spec.Template.Spec.Volumes[0].ConfigMap.Name).To(Equal("web-config-primary"))
		Expect(primary.Spec.Template.Spec.Containers[0].EnvFrom[0].SecretRef.Name).To(Equal("web-secret-primary"))
		frozen := &corev1.ConfigMap{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web-config-primary"}, frozen)).To(Succeed())
		Expect(frozen.Data).To(HaveKeyWithValue("greeting", "hello"))
		frozenSecret := &corev1.Secret{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web-secret-primary"}, frozenSecret)).To(Succeed())
		Expect(frozenSecret.Data).To(HaveKeyWithValue("token", []byte("s3cr3t")))
		before := a.get(ctx).Status.LastPromotedRevision

		By("rolling out an edit of the ConfigMap, while the primary keeps the old content")
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web-config"}, frozen)).To(Succeed())
		frozen.Data["greeting"] = "bonjour"
		Expect(k8s.Update(ctx, frozen)).To(Succeed())
		a.waitWeight(ctx, 20)
		Expect(a.deployment(ctx, "web-canary").Spec.Template.Spec.Volumes[0].ConfigMap.Name).To(Equal("web-config"))
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web-config-primary"}, frozen)).To(Succeed())
		Expect(frozen.Data).To(HaveKeyWithValue("greeting", "hello"))

		c := a.waitPhase(ctx, fledgev1alpha1.PhaseSucceeded)
		Expect(c.Status.LastPromotedRevision).NotTo(Equal(before))
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web-config-primary"}, frozen)).To(Succeed())
		Expect(frozen.Data).To(HaveKeyWithValue("greeting", "bonjour"))

		By("keeping the copies when the Canary is deleted, since the primary still uses them")
		Expect(k8s.Delete(ctx, a.canary)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web-config-primary"}, frozen)).To(Succeed())
			g.Expect(frozen.OwnerReferences).To(BeEmpty())
		}).WithContext(ctx).WithTimeout(30 * time.Second).Should(Succeed())
		Consistently(func() error {
			return k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web-secret-primary"}, &corev1.Secret{})
		}).WithContext(ctx).WithTimeout(2 * time.Second).Should(Succeed())
		Expect(a.deployment(ctx, "web-primary").OwnerReferences).To(BeEmpty())
	})
})
