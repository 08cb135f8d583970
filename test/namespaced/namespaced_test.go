package namespaced_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/test/canarytest"
	"fledge.dev/fledge/test/cluster"
)

// elsewhere is a namespace the manager does not watch.
const elsewhere = "elsewhere"

var _ = Describe("A namespace-scoped install from config/namespaced", Ordered, func() {
	BeforeAll(func(ctx context.Context) {
		Expect(k8s.Create(ctx, cluster.EnabledNamespace(elsewhere))).To(Succeed())
	})

	It("rolls out a Canary of the namespace it watches with its RoleBindings alone", func(ctx context.Context) {
		key := client.ObjectKey{Namespace: cluster.WatchedNamespace, Name: "web"}
		Expect(k8s.Create(ctx, app(key))).To(Succeed())
		Expect(k8s.Create(ctx, canaryOf(key))).To(Succeed())
		canarytest.WaitPhase(ctx, k8s, key, fledgev1alpha1.PhaseInitialized)
		canarytest.SetImage(ctx, k8s, key, "example.com/web:v2")
		canarytest.WaitPhase(ctx, k8s, key, fledgev1alpha1.PhaseSucceeded)
		primary := &appsv1.Deployment{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: key.Namespace, Name: "web-primary"}, primary)).To(Succeed())
		Expect(primary.Spec.Template.Spec.Containers[0].Image).To(Equal("example.com/web:v2"))
	})

	It("leaves the Canaries of other namespaces alone", func(ctx context.Context) {
		key := client.ObjectKey{Namespace: elsewhere, Name: "web"}
		Expect(k8s.Create(ctx, app(key))).To(Succeed())
		Expect(k8s.Create(ctx, canaryOf(key))).To(Succeed())
		Consistently(func() *fledgev1alpha1.Canary { return canarytest.Get(ctx, k8s, key) }).WithContext(ctx).WithTimeout(5*time.Second).
			Should(And(HaveField("Status.Phase", BeEmpty()), HaveField("Finalizers", BeEmpty())), "no manager acts on it")
	})

	It("cannot, with its own token, read or write outside the namespace it watches", func(ctx context.Context) {
		cfg, err := stack.ManagerConfig(ctx)
		Expect(err).NotTo(HaveOccurred())
		asIt, err := client.New(cfg, client.Options{Scheme: stack.Scheme})
		Expect(err).NotTo(HaveOccurred())
		Expect(asIt.List(ctx, &corev1.SecretList{})).To(Satisfy(apierrors.IsForbidden), "list Secrets cluster-wide")
		Expect(asIt.Get(ctx, client.ObjectKey{Namespace: "kube-system", Name: "any"}, &corev1.Secret{})).To(Satisfy(apierrors.IsForbidden), "read a Secret of kube-system")
		planted := app(client.ObjectKey{Namespace: elsewhere, Name: "planted"})
		Expect(asIt.Create(ctx, planted, client.DryRunAll)).To(Satisfy(apierrors.IsForbidden), "create a Deployment elsewhere")
		Expect(asIt.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "planted"}}, client.DryRunAll)).
			To(Satisfy(apierrors.IsForbidden), "create a Secret in kube-system")
		// In its namespace, the admission policy still holds it to the copies it manages.
		Expect(asIt.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: cluster.WatchedNamespace, GenerateName: "planted-"}}, client.DryRunAll)).
			To(MatchError(ContainSubstring("creates only the objects of a Canary")))
	})

	It("was never refused anything by the API server: it asks only within its namespace", func() {
		log, err := manager.Log()
		Expect(err).NotTo(HaveOccurred())
		Expect(log).NotTo(ContainSubstring("forbidden"))
		Expect(manager.Running()).To(Succeed())
	})
})

func app(key client.ObjectKey) *appsv1.Deployment {
	labels := map[string]string{"app": key.Name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "example.com/web:v1"}}},
			},
		},
	}
}

func canaryOf(key client.ObjectKey) *fledgev1alpha1.Canary {
	return &fledgev1alpha1.Canary{
		ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name},
		Spec: fledgev1alpha1.CanarySpec{
			TargetRef: fledgev1alpha1.TargetRef{Name: key.Name},
			Service:   fledgev1alpha1.CanaryService{Port: 80, TargetPort: 8080},
			Analysis:  fledgev1alpha1.CanaryAnalysis{Interval: &metav1.Duration{Duration: time.Second}, Threshold: 2, StepWeights: []int32{50}},
		},
	}
}
