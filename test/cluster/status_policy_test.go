package cluster_test

import (
	"context"
	"encoding/json"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/test/cluster"
)

// The status-requests policy of config/policy, as the harness installs it, judged by the API
// server itself: the CEL of each rule, what it lets through and what it refuses.
var _ = Describe("the status-requests admission policy", func() {
	It("lets everyone but the manager write status.request alone, in their own name, and the manager anything", func(ctx context.Context) {
		// ManagerConfig installs config/default's rights and policies, and waits for them.
		managerCfg, err := stack.ManagerConfig(ctx)
		Expect(err).NotTo(HaveOccurred())
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "policy-" + rand.String(5)}}
		Expect(stack.Client.Create(ctx, ns)).To(Succeed())
		canary := &fledgev1alpha1.Canary{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "web"},
			Spec: fledgev1alpha1.CanarySpec{
				TargetRef: fledgev1alpha1.TargetRef{Name: "web"},
				Service:   fledgev1alpha1.CanaryService{Port: 80},
			},
		}
		Expect(stack.Client.Create(ctx, canary)).To(Succeed())
		// ann operates rollouts there with the role config/default ships.
		Expect(stack.Client.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "operators"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "fledge-operator"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "ann"}},
		})).To(Succeed())

		manager, err := client.New(managerCfg, client.Options{Scheme: stack.Scheme})
		Expect(err).NotTo(HaveOccurred())
		ann, err := stack.ClientAs("ann")
		Expect(err).NotTo(HaveOccurred())
		// RBAC reaches the authorizer through an informer: wait for the binding.
		Eventually(func() error {
			return ann.Get(ctx, client.ObjectKeyFromObject(canary), &fledgev1alpha1.Canary{})
		}).WithContext(ctx).Should(Succeed())
		patch := func(as client.Client, status map[string]any) error {
			body, err := json.Marshal(map[string]any{"status": status})
			Expect(err).NotTo(HaveOccurred())
			c := &fledgev1alpha1.Canary{ObjectMeta: canary.ObjectMeta}
			return as.Status().Patch(ctx, c, client.RawPatch(types.MergePatchType, body))
		}
		req := func(id, by string) map[string]any {
			return map[string]any{"id": id, "action": "Abort", "requestedBy": by}
		}

		By("the manager writes any field")
		Expect(patch(manager, map[string]any{"phase": "Progressing", "canaryWeight": 20})).To(Succeed())

		By("the administrator and an operator write a request in their own name")
		Expect(patch(stack.Client, map[string]any{"request": req("a", cluster.AdminUser)})).To(Succeed())
		Expect(patch(ann, map[string]any{"request": req("b", "ann")})).To(Succeed())

		By("they write nothing else, and no request in another's name")
		forged := "only the Fledge manager writes a Canary's status"
		Expect(patch(ann, map[string]any{"canaryWeight": 100})).To(MatchError(ContainSubstring(forged)))
		Expect(patch(stack.Client, map[string]any{"phase": "Promoting"})).To(MatchError(ContainSubstring(forged)), "administrators too")
		Expect(patch(ann, map[string]any{"phase": nil})).To(MatchError(ContainSubstring(forged)), "a field removed")
		Expect(patch(ann, map[string]any{"request": req("c", "ann"), "lastPromotedRevision": "x"})).To(MatchError(ContainSubstring(forged)), "a request carrying more")
		Expect(patch(ann, map[string]any{"request": req("d", "bob")})).
			To(MatchError(ContainSubstring("requestedBy must be your own user name as the API server knows it, ann")))
		// (A merge patch keeps the fields it does not name: null removes one.)
		Expect(patch(ann, map[string]any{"request": map[string]any{"id": "e", "action": "Abort", "requestedBy": nil}})).
			To(MatchError(ContainSubstring("requestedBy must be your own user name")), "a request naming no one")
		Expect(patch(ann, map[string]any{"request": nil})).To(MatchError(ContainSubstring("not removed")))

		By("a status left as it was, request and all, passes: an update of the rest of the object")
		Expect(patch(ann, map[string]any{})).To(Succeed())
		got := &fledgev1alpha1.Canary{}
		Expect(stack.Client.Get(ctx, client.ObjectKeyFromObject(canary), got)).To(Succeed())
		Expect(got.Status.CanaryWeight).To(Equal(int32(20)))
		Expect(got.Status.Request.RequestedBy).To(Equal("ann"))
	})
})
