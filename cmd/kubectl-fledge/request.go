package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// defaultRequestTimeout is how long a steering command waits for Fledge to handle its request.
const defaultRequestTimeout = 30 * time.Second

// verbs say, for each action, what the user asked ("you may not ...") and what happened.
var verbs = map[fledgev1alpha1.RequestAction]struct{ ask, done string }{
	fledgev1alpha1.RequestPromote:     {"promote", "promoted"},
	fledgev1alpha1.RequestPromoteStep: {"advance", "advanced"},
	fledgev1alpha1.RequestAbort:       {"abort", "aborted"},
	fledgev1alpha1.RequestPause:       {"pause", "paused"},
	fledgev1alpha1.RequestResume:      {"resume", "resumed"},
	fledgev1alpha1.RequestRetry:       {"retry", "retried"},
}

// sendRequest writes a manual request into the canary's status.request, waits until Fledge
// has handled it, and prints the outcome. A refused request ends the command with status 1.
func (s *session) sendRequest(ctx context.Context, name string, action fledgev1alpha1.RequestAction, timeout time.Duration) error {
	if err := s.connect(); err != nil {
		return err
	}
	id, err := newRequestID()
	if err != nil {
		return err
	}
	who, err := s.whoAmI(ctx)
	if err != nil {
		return err
	}
	canary, err := s.patchRequest(ctx, name, fledgev1alpha1.ManualRequest{
		ID: id, Action: action, RequestedBy: who, RequestedAt: ptr(metav1.Now()),
	})
	if err != nil {
		return err
	}

	waitCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var handled *fledgev1alpha1.HandledRequest
	err = s.followCanary(waitCtx, canary, func(c *fledgev1alpha1.Canary) (bool, error) {
		if h := c.Status.LastHandledRequest; h != nil && h.ID == id {
			handled = h
			return true, nil
		}
		// Requests are not queued: a newer one written before Fledge got to ours replaces it.
		if r := c.Status.Request; r != nil && r.ID != id {
			return true, fmt.Errorf("another request (%s by %s) replaced yours before Fledge handled it; yours was not acted on", r.Action, orSomeone(r.RequestedBy))
		}
		return false, nil
	})
	switch {
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		return fmt.Errorf("no answer from Fledge within %s: is its controller running? The request (id %s) stays in status.request and will be acted on when Fledge gets to it", timeout, id)
	case err != nil:
		return fmt.Errorf("wait for Fledge to handle the %s request: %w", action, err)
	}

	if !handled.Accepted {
		return &exitError{code: 1, message: "refused: " + handled.Message}
	}
	fmt.Fprintf(s.streams.Out, "%s: canary %s in namespace %s: %s\n", verbs[action].done, name, s.namespace, handled.Message)
	return nil
}

// patchRequest writes status.request with a merge patch on the status subresource: no read
// first, so that one round trip sends the request, and the answer's resourceVersion is where
// the wait for the outcome starts.
func (s *session) patchRequest(ctx context.Context, name string, req fledgev1alpha1.ManualRequest) (*fledgev1alpha1.Canary, error) {
	body, err := json.Marshal(map[string]any{"status": map[string]any{"request": req}})
	if err != nil {
		return nil, fmt.Errorf("encode the request: %w", err)
	}
	canary := &fledgev1alpha1.Canary{ObjectMeta: metav1.ObjectMeta{Namespace: s.namespace, Name: name}}
	err = s.client.Status().Patch(ctx, canary, client.RawPatch(types.MergePatchType, body))
	switch {
	case err == nil:
		return canary, nil
	case strings.Contains(err.Error(), policyDenial):
		// RBAC let it through; an admission policy did not (Forbidden or Invalid, as the
		// policy chose), and says why.
		_, why, _ := strings.Cut(err.Error(), policyDenial)
		return nil, fmt.Errorf("you may not %s canary %s in namespace %s: %s", verbs[req.Action].ask, name, s.namespace, why)
	case apierrors.IsForbidden(err):
		return nil, fmt.Errorf("you may not %s canary %s in namespace %s: your account cannot patch canaries/status (ask for the fledge-operator role)",
			verbs[req.Action].ask, name, s.namespace)
	case apierrors.IsNotFound(err):
		return nil, s.explain(ctx, err, name)
	}
	return nil, fmt.Errorf("send the %s request to canary %s in namespace %s: %w", req.Action, name, s.namespace, err)
}

// policyDenial is how the API server words a refusal by a ValidatingAdmissionPolicy, before
// the policy's own message.
const policyDenial = "denied request: "

// whoAmI is the caller's user name as the API server authenticated it (SelfSubjectReview,
// which any authenticated user may send): Fledge's admission policy refuses a request that
// names anyone else, and Slack and the history say who it was.
func (s *session) whoAmI(ctx context.Context) (string, error) {
	review := &authenticationv1.SelfSubjectReview{}
	if err := s.client.Create(ctx, review); err != nil {
		return "", fmt.Errorf("ask the API server who you are, to sign the request (SelfSubjectReview, Kubernetes 1.28 or later): %w", err)
	}
	if review.Status.UserInfo.Username == "" {
		return "", errors.New("the API server did not say who you are (SelfSubjectReview): a request must name its sender")
	}
	return review.Status.UserInfo.Username, nil
}

// newRequestID is unique per request (Fledge acts on each id once) and sorts by time.
func newRequestID() (string, error) {
	random := make([]byte, 6)
	if _, err := rand.Read(random); err != nil {
		return "", fmt.Errorf("make a request id: %w", err)
	}
	return "kf-" + strconv.FormatInt(time.Now().UnixMilli(), 36) + "-" + hex.EncodeToString(random), nil
}

func orSomeone(name string) string {
	if name == "" {
		return "someone"
	}
	return name
}

func ptr[T any](v T) *T { return &v }
