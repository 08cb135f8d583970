package install_test

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/test/fakeslack"
)

// operatorUser drives rollouts with nothing but the shipped fledge-operator role.
const operatorUser = "ann@example.com"

// steerAsOperator is a spec of the install suite (slack is its fake Slack): an operator bound
// to config/default's fledge-operator role, whose RBAC lets them patch canaries/status, tries
// to forge the status a rollout follows and to send a request in someone else's name; the
// status-requests admission policy refuses each, and a request of their own goes through,
// named after them in the history and in Slack.
func steerAsOperator(ctx context.Context, slack *fakeslack.Server) {
	const ns, name, channel = "install-steered", "web", "C0STEERED"
	createNamespace(ctx, ns)
	create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "operators"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "fledge-operator"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: operatorUser}},
	})
	create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "slack"}, StringData: map[string]string{"token": fakeslack.Token}})
	create(ctx, &fledgev1alpha1.AlertProvider{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "team"},
		Spec:       fledgev1alpha1.AlertProviderSpec{Channel: channel, BotToken: &fledgev1alpha1.SecretKeyRef{SecretName: "slack", Key: "token"}},
	})
	create(ctx, target(ns, name, nil))
	create(ctx, &fledgev1alpha1.Canary{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: fledgev1alpha1.CanarySpec{
			TargetRef: fledgev1alpha1.TargetRef{Name: name},
			Service:   fledgev1alpha1.CanaryService{Port: 80, TargetPort: 8080},
			Analysis: fledgev1alpha1.CanaryAnalysis{
				// The first step holds: only a request moves it on.
				Interval: &metav1.Duration{Duration: time.Hour}, Threshold: 2,
				Alerts: []fledgev1alpha1.CanaryAlert{{ProviderRef: fledgev1alpha1.AlertProviderRef{Name: "team"}}},
			},
		},
	})
	waitPhase(ctx, ns, name, fledgev1alpha1.PhaseInitialized)
	release(ctx, ns, name, "example.com/web:v2")
	waitPhase(ctx, ns, name, fledgev1alpha1.PhaseProgressing)

	operator := asUser(operatorUser)
	key := client.ObjectKey{Namespace: ns, Name: name}
	patchStatus := func(status map[string]any) error {
		body, err := json.Marshal(map[string]any{"status": status})
		Expect(err).NotTo(HaveOccurred())
		c := &fledgev1alpha1.Canary{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		return operator.Status().Patch(ctx, c, client.RawPatch(types.MergePatchType, body))
	}
	request := func(id, action, by string) map[string]any {
		r := map[string]any{"id": id, "action": action}
		if by != "" {
			r["requestedBy"] = by
		}
		return r
	}

	By("refusing every status field but the request to the operator")
	forgeries := map[string]map[string]any{
		"the weight":                {"canaryWeight": 100},
		"the phase":                 {"phase": "Promoting", "request": request("forged-1", "Promote", operatorUser)},
		"the last promoted version": {"lastPromotedRevision": "forged"},
		"the outbox": {"notifications": map[string]any{"nextSeq": 99, "outbox": []any{map[string]any{
			"seq": 98, "kind": "Promoted", "message": "promoted by the CEO", "time": metav1.Now().UTC().Format(time.RFC3339),
		}}}},
	}
	for what, status := range forgeries {
		Expect(patchStatus(status)).To(MatchError(ContainSubstring("only the Fledge manager writes a Canary's status")), what)
	}

	By("refusing a request in someone else's name, or in none")
	Expect(patchStatus(map[string]any{"request": request("forged-2", "Promote", "bob")})).
		To(MatchError(ContainSubstring("requestedBy must be your own user name as the API server knows it, " + operatorUser)))
	Expect(patchStatus(map[string]any{"request": request("forged-3", "Promote", "")})).
		To(MatchError(ContainSubstring("requestedBy must be your own user name")))
	// The manager writes on meanwhile (the first step, the delivery of its news): what the
	// operator sent is nowhere.
	after := &fledgev1alpha1.Canary{}
	Expect(k8s.Get(ctx, key, after)).To(Succeed())
	Expect(after.Status.Phase).To(Equal(fledgev1alpha1.PhaseProgressing))
	Expect(after.Status.CanaryWeight).To(BeNumerically("<", 100))
	Expect(after.Status.LastPromotedRevision).NotTo(Equal("forged"))
	Expect(after.Status.Request).To(BeNil(), "no request was let through")
	if n := after.Status.Notifications; n != nil {
		for _, e := range n.Outbox {
			Expect(e.Message).NotTo(ContainSubstring("the CEO"))
		}
		Expect(n.NextSeq).To(BeNumerically("<", 99))
	}

	By("promoting on a request of the operator's own, named after them")
	Expect(patchStatus(map[string]any{"request": request("genuine-1", "Promote", operatorUser)})).To(Succeed())
	done := waitPhase(ctx, ns, name, fledgev1alpha1.PhaseSucceeded)
	Expect(done.Status.LastHandledRequest).NotTo(BeNil())
	Expect(done.Status.LastHandledRequest.Accepted).To(BeTrue(), done.Status.LastHandledRequest.Message)
	Expect(done.Status.History).NotTo(BeEmpty())
	Expect(done.Status.History[len(done.Status.History)-1].EndedBy).To(Equal(operatorUser))
	Eventually(func() string {
		var texts []string
		// The rollout's message, as it was updated in place, and its thread.
		for _, m := range slack.TopLevelIn(channel) {
			for _, v := range m.Versions {
				texts = append(texts, v.Text)
			}
			for _, r := range slack.Replies(m.TS) {
				texts = append(texts, r.Text)
			}
		}
		return strings.Join(texts, "\n")
	}).WithContext(ctx).WithTimeout(30*time.Second).Should(ContainSubstring("promoted on request by "+operatorUser), "Slack names who promoted")
}

// asUser is stack.ClientAs, failing the spec on an error.
func asUser(user string) client.Client {
	GinkgoHelper()
	c, err := stack.ClientAs(user)
	Expect(err).NotTo(HaveOccurred())
	return c
}
