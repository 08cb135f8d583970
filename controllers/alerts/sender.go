package alerts

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/notifiers"
)

// sender builds the Slack sender of an AlertProvider, with the credentials of its Secret. A
// bot is told the channel ID its provider recorded last, so that a channel configured by name
// needs no lookup once a message was posted there.
func (d *Dispatcher) sender(ctx context.Context, canary *fledgev1alpha1.Canary, target Target, progress fledgev1alpha1.ProviderDelivery) (notifiers.Sender, error) {
	ap := &fledgev1alpha1.AlertProvider{}
	if err := d.Client.Get(ctx, client.ObjectKey{Namespace: target.Namespace, Name: target.Name}, ap); err != nil {
		return nil, fmt.Errorf("AlertProvider %s: %w", target.Key, err)
	}
	// The manager's default provider is the administrator's choice for every namespace; any
	// other posts with its owner's credentials, so its owner says who may.
	if target.Key != d.DefaultProvider && !fledgev1alpha1.MaySee(ap.Namespace, ap.Spec.SharedWith, canary.Namespace) {
		return nil, &notSharedError{provider: target.Key, namespace: canary.Namespace}
	}
	ref := ap.Spec.WebhookURL
	if ap.Spec.BotToken != nil {
		ref = ap.Spec.BotToken
	}
	if ref == nil {
		return nil, fmt.Errorf("AlertProvider %s has neither botToken nor webhookURL", target.Key)
	}
	secret := &corev1.Secret{}
	if err := d.APIReader.Get(ctx, client.ObjectKey{Namespace: ap.Namespace, Name: ref.SecretName}, secret); err != nil {
		return nil, fmt.Errorf("the Secret %s/%s of AlertProvider %s: %w", ap.Namespace, ref.SecretName, target.Key, err)
	}
	value := string(secret.Data[ref.Key])
	if value == "" {
		return nil, fmt.Errorf("the Secret %s/%s of AlertProvider %s has no key %q", ap.Namespace, ref.SecretName, target.Key, ref.Key)
	}
	if ap.Spec.BotToken != nil {
		return notifiers.NewSlackBot(notifiers.BotConfig{
			Token: value, Channel: ap.Spec.Channel, KnownChannelID: progress.Channel,
			Username: ap.Spec.Username, IconEmoji: ap.Spec.IconEmoji, APIURL: d.SlackAPIURL,
			// A post that crossed a freeze past the lease is taken back (the fence is asked before
			// each post too): the new leader's stays the only one.
			StillAllowed: d.checkFence,
		})
	}
	return notifiers.NewSlackWebhook(notifiers.WebhookConfig{URL: value, Channel: ap.Spec.Channel, Username: ap.Spec.Username, IconEmoji: ap.Spec.IconEmoji})
}

// notSharedError: the Canary names an AlertProvider of another namespace that is not shared
// with its own. No retry helps; its notifications to that provider are given up at once.
type notSharedError struct{ provider, namespace string }

func (e *notSharedError) Error() string {
	return fmt.Sprintf("AlertProvider %s is not shared with namespace %s: its owners may add %q to its spec.sharedWith",
		e.provider, e.namespace, e.namespace)
}
