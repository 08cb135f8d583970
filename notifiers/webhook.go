package notifiers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"time"

	"github.com/slack-go/slack"
)

// WebhookConfig configures a SlackWebhook.
type WebhookConfig struct {
	// URL is the incoming webhook's URL. Its path is a secret: it never appears in errors.
	URL string
	// Channel, Username and IconEmoji override the webhook's defaults where Slack allows it
	// (webhooks of Slack apps post to their own channel only).
	Channel, Username, IconEmoji string
	// CallTimeout bounds each HTTP call; zero means DefaultCallTimeout.
	CallTimeout time.Duration
}

// SlackWebhook posts one message per notification to an incoming webhook.
//
// What a webhook can promise: every notification is posted at least once, in order, unless it
// is given up (a refusal no retry can fix, or the retry bound), and a notification whose post
// was answered and recorded is never posted again. What it cannot promise: exactly once. An
// incoming webhook can neither read nor edit the channel, and its answer carries no ID, so
// nothing tells a later attempt that an earlier one got through. When the response of a post
// that Slack accepted is lost (a timeout, a connection cut after the request), or the
// controller stops between the post and recording it in the Canary's status (a crash, a lost
// leader lease), the next attempt posts the same message again; people then see it twice. A
// SlackBot has no such gap: each of its messages carries the notification and rollout IDs in
// Slack message metadata, and it reads the channel and the thread before posting, so it finds
// its earlier message again and updates it (or leaves the reply alone) instead of duplicating
// it.
type SlackWebhook struct {
	cfg     WebhookConfig
	client  *http.Client
	timeout time.Duration
}

// NewSlackWebhook checks cfg and returns a SlackWebhook. It makes no call to Slack.
func NewSlackWebhook(cfg WebhookConfig) (*SlackWebhook, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		// The URL itself stays out of the error: it holds the secret.
		return nil, errors.New("slack webhook: the URL is not an http(s) URL: put the incoming webhook's URL (https://hooks.slack.com/services/...) in the notifier's secret")
	}
	timeout := cfg.CallTimeout
	if timeout <= 0 {
		timeout = DefaultCallTimeout
	}
	return &SlackWebhook{cfg: cfg, client: &http.Client{Timeout: timeout}, timeout: timeout}, nil
}

// Send posts n as one message. Webhooks have no threads: the returned Thread is always nil.
func (w *SlackWebhook) Send(ctx context.Context, n Notification, _ *Thread) (*Thread, error) {
	msg := rolloutMessage(n)
	noUnfurl := false
	payload := &slack.WebhookMessage{
		Channel:     w.cfg.Channel,
		Username:    w.cfg.Username,
		IconEmoji:   w.cfg.IconEmoji,
		Text:        msg.Text,
		Blocks:      &slack.Blocks{BlockSet: msg.Blocks},
		UnfurlLinks: &noUnfurl,
		UnfurlMedia: &noUnfurl,
	}
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	// PostWebhookCustomHTTPContext is PostWebhookContext with our client, whose timeout backs
	// up the context's.
	if err := slack.PostWebhookCustomHTTPContext(ctx, w.cfg.URL, w.client, payload); err != nil {
		return nil, w.fail(err)
	}
	return nil, nil
}

// fail classifies err and strips the webhook URL from it: "POST to the Slack webhook: <why>".
func (w *SlackWebhook) fail(err error) error {
	var status slack.StatusCodeError
	if errors.As(err, &status) {
		if fix, ok := webhookFix(status.Code); ok {
			err = &PermanentError{Code: fmt.Sprint(status.Code), Fix: fix, err: status}
		} else {
			err = status
		}
	}
	// A *url.Error prints the URL; what it wraps (a dial error, a timeout) does not.
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err
	}
	err = fmt.Errorf("POST to the Slack webhook: %w", err)
	return redact(err, w.secrets()...)
}

// secrets are the forms in which the webhook's secret could show up in an error, longest
// first. Parts shorter than 8 characters (a bare "/") are left out: they would replace innocent
// text, and cannot hold a secret worth the name.
func (w *SlackWebhook) secrets() []secret {
	const placeholder = "<redacted webhook URL>"
	s := []secret{{w.cfg.URL, placeholder}}
	u, err := url.Parse(w.cfg.URL)
	if err != nil {
		return s
	}
	// The last path segment is the webhook's token.
	for _, part := range []string{u.Host + u.EscapedPath(), u.Host + u.Path, u.EscapedPath(), u.Path, u.RawQuery, path.Base(u.Path)} {
		if len(part) >= 8 {
			s = append(s, secret{part, placeholder})
		}
	}
	return s
}
