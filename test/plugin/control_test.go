package plugin_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/test/cluster"
)

// commandToEffectLimit is a loose bound: the target is about a second on a quiet machine,
// and the measured times are reported, not asserted tightly.
const commandToEffectLimit = 10 * time.Second

var _ = Describe("steering a rollout", func() {
	It("promotes at once, and says how long it took", func(ctx context.Context) {
		a := newApp(ctx, newNamespace(ctx, ""), "web", withInterval(time.Hour))
		a.startRollout(ctx, "example.com/web:v2")

		effects := a.watchEffects(ctx, fledgev1alpha1.PhasePromoting)
		r := kubectl(ctx, "fledge", "promote", "web", "-n", a.ns)
		handled, promoting := effects.wait()
		reportTiming("promote", r.took, handled, promoting)

		Expect(r.exitCode).To(Equal(0), r.stderr)
		Expect(r.stdout).To(HavePrefix("promoted: canary web in namespace "+a.ns+": promoting by "+cluster.AdminUser), "signed with the user name the API server knows")
		Expect(promoting).To(BeNumerically("<", commandToEffectLimit))
		a.waitPhase(ctx, fledgev1alpha1.PhaseSucceeded)
	})

	It("aborts at once, and retries the failed revision", func(ctx context.Context) {
		a := newApp(ctx, newNamespace(ctx, ""), "web", withInterval(time.Hour))
		a.startRollout(ctx, "example.com/web:v2")

		effects := a.watchEffects(ctx, fledgev1alpha1.PhaseFailed)
		r := kubectl(ctx, "fledge", "abort", "web", "-n", a.ns)
		handled, failed := effects.wait()
		reportTiming("abort", r.took, handled, failed)

		Expect(r.exitCode).To(Equal(0), r.stderr)
		Expect(r.stdout).To(HavePrefix("aborted: canary web in namespace " + a.ns))
		Expect(failed).To(BeNumerically("<", commandToEffectLimit))
		Expect(a.get(ctx).Status.CanaryWeight).To(BeZero())

		r = kubectl(ctx, "fledge", "retry", "web", "-n", a.ns)
		Expect(r.exitCode).To(Equal(0), r.stderr)
		Expect(r.stdout).To(HavePrefix("retried: "))
		a.waitWeight(ctx, 20)
	})

	It("advances one step, pauses and resumes", func(ctx context.Context) {
		a := newApp(ctx, newNamespace(ctx, ""), "web", withInterval(time.Hour))
		a.startRollout(ctx, "example.com/web:v2")

		r := kubectl(ctx, "fledge", "promote", "web", "--step", "-n", a.ns)
		Expect(r.exitCode).To(Equal(0), r.stderr)
		Expect(r.stdout).To(HavePrefix("advanced: "))
		Expect(a.get(ctx).Status.CanaryWeight).To(Equal(int32(40)), "the step is taken when the command returns")

		Expect(kubectl(ctx, "fledge", "pause", "web", "-n", a.ns).exitCode).To(Equal(0))
		Expect(a.get(ctx).Status.Paused).To(BeTrue())
		Expect(kubectl(ctx, "fledge", "resume", "web", "-n", a.ns).exitCode).To(Equal(0))
		Expect(a.get(ctx).Status.Paused).To(BeFalse())
	})

	It("says plainly why Fledge refused a request, and exits with status 1", func(ctx context.Context) {
		a := newApp(ctx, newNamespace(ctx, ""), "web")
		r := kubectl(ctx, "fledge", "promote", "web", "-n", a.ns)
		Expect(r.exitCode).To(Equal(1))
		Expect(r.stderr).To(Equal("refused: no rollout is in progress (the phase is Initialized)\n"))

		r = kubectl(ctx, "fledge", "resume", "web", "-n", a.ns)
		Expect(r.exitCode).To(Equal(1))
		Expect(r.stderr).To(ContainSubstring("refused: the rollout is not paused"))
	})

	It("passes on why an admission policy of the cluster's refused the request: a change freeze", func(ctx context.Context) {
		a := newApp(ctx, newNamespace(ctx, ""), "web", withInterval(time.Hour))
		a.startRollout(ctx, "example.com/web:v2")
		freeze := &admissionregistrationv1.ValidatingAdmissionPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "freeze-" + a.ns},
			Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
				FailurePolicy: ptrTo(admissionregistrationv1.Fail),
				MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
					RuleWithOperations: admissionregistrationv1.RuleWithOperations{
						Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
						Rule:       admissionregistrationv1.Rule{APIGroups: []string{"fledge.dev"}, APIVersions: []string{"*"}, Resources: []string{"canaries/status"}},
					},
				}}},
				MatchConditions: []admissionregistrationv1.MatchCondition{{Name: "here", Expression: "request.namespace == '" + a.ns + "'"}},
				Validations:     []admissionregistrationv1.Validation{{Expression: "false", Message: "changes are frozen until Monday"}},
			},
		}
		binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
			ObjectMeta: metav1.ObjectMeta{Name: freeze.Name},
			Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
				PolicyName: freeze.Name, ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			},
		}
		Expect(k8s.Create(ctx, freeze)).To(Succeed())
		Expect(k8s.Create(ctx, binding)).To(Succeed())
		DeferCleanup(func(ctx context.Context) {
			Expect(k8s.Delete(ctx, binding)).To(Succeed())
			Expect(k8s.Delete(ctx, freeze)).To(Succeed())
		})

		// The policy reaches admission through an informer. A pause that went through before it
		// did would leave nothing to refuse, so a dry run (which admission sees, and which
		// changes nothing) waits for it first.
		Eventually(func() error {
			request := []byte(`{"status":{"request":{"id":"probe","action":"Pause","requestedBy":"` + cluster.AdminUser + `"}}}`)
			return k8s.Status().Patch(ctx, a.get(ctx), client.RawPatch(types.MergePatchType, request), client.DryRunAll)
		}).WithContext(ctx).WithTimeout(30 * time.Second).Should(MatchError(ContainSubstring("changes are frozen until Monday")))

		r := kubectl(ctx, "fledge", "pause", "web", "-n", a.ns)
		Expect(r.exitCode).To(Equal(1))
		Expect(r.stderr).To(Equal("error: you may not pause canary web in namespace " + a.ns + ": changes are frozen until Monday\n"))
		Expect(a.get(ctx).Status.Phase).To(Equal(fledgev1alpha1.PhaseProgressing), "nothing changed")
	})

	It("tells a user without rights that their account cannot patch canaries/status", func(ctx context.Context) {
		a := newApp(ctx, newNamespace(ctx, ""), "web", withInterval(time.Hour))
		a.startRollout(ctx, "example.com/web:v2")
		kubeconfig := serviceAccountKubeconfig(ctx, a.ns, "bob", nil)

		for _, command := range [][]string{{"promote", "web"}, {"abort", "web"}, {"promote", "web", "--step"}} {
			verb := map[string]string{"promote": "promote", "abort": "abort"}[command[0]]
			if len(command) == 3 {
				verb = "advance"
			}
			r := kubectl(ctx, append(append([]string{"fledge"}, command...), "-n", a.ns, "--kubeconfig", kubeconfig)...)
			Expect(r.exitCode).To(Equal(1))
			Expect(r.stderr).To(Equal("error: you may not " + verb + " canary web in namespace " + a.ns +
				": your account cannot patch canaries/status (ask for the fledge-operator role)\n"))
		}
		Expect(a.get(ctx).Status.Phase).To(Equal(fledgev1alpha1.PhaseProgressing), "nothing changed")
	})

	It("lets a user with the fledge-operator role of config/rbac steer, and records who", func(ctx context.Context) {
		a := newApp(ctx, newNamespace(ctx, ""), "web", withInterval(time.Hour))
		a.startRollout(ctx, "example.com/web:v2")
		kubeconfig := serviceAccountKubeconfig(ctx, a.ns, "alice", operatorRules())

		r := kubectl(ctx, "fledge", "abort", "web", "-n", a.ns, "--kubeconfig", kubeconfig)
		Expect(r.exitCode).To(Equal(0), r.stderr)
		c := a.waitPhase(ctx, fledgev1alpha1.PhaseFailed)
		alice := "system:serviceaccount:" + a.ns + ":alice"
		Expect(c.Status.Message).To(Equal("aborted: aborted on request by " + alice))
		Expect(c.Status.Request.RequestedBy).To(Equal(alice), "the user name the API server knows")
	})
})

// operatorRules are the rules of the operator ClusterRole that config/rbac gives users who
// drive rollouts (fledge-operator once installed), so the test proves the shipped role.
func operatorRules() []rbacv1.PolicyRule {
	GinkgoHelper()
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "rbac", "user_roles.yaml"))
	Expect(err).NotTo(HaveOccurred())
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var role rbacv1.ClusterRole
		Expect(yaml.Unmarshal([]byte(doc), &role)).To(Succeed())
		if role.Name == "operator" {
			Expect(role.Rules).NotTo(BeEmpty())
			return role.Rules
		}
	}
	Fail("config/rbac/user_roles.yaml has no ClusterRole operator")
	return nil
}

// serviceAccountKubeconfig makes a ServiceAccount with rules (none: no rights at all) and a
// kubeconfig that uses its token under the user name name.
func serviceAccountKubeconfig(ctx context.Context, ns, name string, rules []rbacv1.PolicyRule) string {
	GinkgoHelper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	Expect(k8s.Create(ctx, sa)).To(Succeed())
	if rules != nil {
		role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Rules: rules}
		Expect(k8s.Create(ctx, role)).To(Succeed())
		Expect(k8s.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}},
		})).To(Succeed())
	}
	token := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptrTo[int64](3600)}}
	Expect(k8s.SubResource("token").Create(ctx, sa, token)).To(Succeed())
	return writeKubeconfig(name, token.Status.Token)
}

// reportTiming logs how long after the command started its effects showed.
func reportTiming(command string, took, handled, effect time.Duration) {
	line := command + ": request handled after " + handled.Round(time.Millisecond).String() +
		", phase changed after " + effect.Round(time.Millisecond).String() +
		"; the command returned after " + took.Round(time.Millisecond).String()
	GinkgoWriter.Println(line)
	AddReportEntry("command to effect: "+command, line)
}
