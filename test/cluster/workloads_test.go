package cluster_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

var _ = Describe("a Deployment on the local control plane", func() {
	It("scales to Ready pods on kwok nodes and rolls out a new image", func(ctx context.Context) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "smoke-"}}
		Expect(stack.Client.Create(ctx, ns)).To(Succeed())

		labels := map[string]string{"app": "web"}
		deploy := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "web"},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To[int32](3),
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "example.com/web:1"}}},
				},
			},
		}
		Expect(stack.Client.Create(ctx, deploy)).To(Succeed())
		expectRolledOut(ctx, deploy, "example.com/web:1", 3)

		By("changing the image")
		Expect(stack.Client.Get(ctx, client.ObjectKeyFromObject(deploy), deploy)).To(Succeed())
		deploy.Spec.Template.Spec.Containers[0].Image = "example.com/web:2"
		Expect(stack.Client.Update(ctx, deploy)).To(Succeed())
		expectRolledOut(ctx, deploy, "example.com/web:2", 3)
	})
})

// expectRolledOut waits until the Deployment's controller reports the rollout complete and
// every pod runs image, Ready, on a kwok node.
func expectRolledOut(ctx context.Context, deploy *appsv1.Deployment, image string, replicas int32) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		var got appsv1.Deployment
		g.Expect(stack.Client.Get(ctx, client.ObjectKeyFromObject(deploy), &got)).To(Succeed())
		g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
		g.Expect(got.Status.UpdatedReplicas).To(Equal(replicas))
		g.Expect(got.Status.ReadyReplicas).To(Equal(replicas))
		g.Expect(got.Status.Replicas).To(Equal(replicas), "old pods are gone")

		var pods corev1.PodList
		g.Expect(stack.Client.List(ctx, &pods, client.InNamespace(deploy.Namespace), client.MatchingLabels(deploy.Spec.Selector.MatchLabels))).To(Succeed())
		var ready int32
		for _, pod := range pods.Items {
			if pod.DeletionTimestamp != nil {
				continue
			}
			g.Expect(pod.Spec.NodeName).To(HavePrefix("kwok-node-"))
			g.Expect(pod.Spec.Containers[0].Image).To(Equal(image))
			g.Expect(pod.Status.PodIP).NotTo(BeEmpty())
			for _, cond := range pod.Status.Conditions {
				if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		g.Expect(ready).To(Equal(replicas))
	}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(250 * time.Millisecond).Should(Succeed())
}
