package notifiers

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/slack-go/slack"
)

// PermanentError is a failure that retrying cannot fix: a person must change the configuration
// (or, for a rejected message format, Fledge must be fixed). Deliver returns it at once.
type PermanentError struct {
	// Code is Slack's error code (invalid_auth, channel_not_found, ...) or the HTTP status.
	Code string
	// Fix says what to change.
	Fix string
	err error
}

func (e *PermanentError) Error() string {
	return fmt.Sprintf("Slack refused the notification (%s): %s", e.Code, e.Fix)
}

func (e *PermanentError) Unwrap() error { return e.err }

// IsPermanent reports whether err is a PermanentError: the caller may drop the notification
// and tell people what to fix instead of retrying.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// botFix says what to do about Slack Web API error codes that no retry can fix. Codes not listed
// (internal_error, fatal_error, service_unavailable, ...) are treated as transient.
func botFix(code, channel string, resp slack.SlackErrorResponse) (string, bool) {
	switch code {
	case "invalid_auth", "not_authed", "token_revoked", "token_expired", "not_allowed_token_type":
		return "the bot token is invalid or revoked: put a valid bot token (xoxb-...) of the Fledge Slack app in the notifier's secret", true
	case "account_inactive":
		return "the token belongs to a deactivated user or a disabled app: reinstall the Slack app and put its new bot token in the notifier's secret", true
	case "missing_scope", "no_permission":
		needed := "chat:write, channels:history and groups:history"
		if resp.Needed != "" {
			needed = resp.Needed
		}
		return fmt.Sprintf("the Slack app lacks a permission: add the scopes %s, reinstall the app and update the token", needed), true
	case "channel_not_found":
		return fmt.Sprintf("channel %q does not exist or the bot cannot see it: check the channel, and invite the bot if it is private", channel), true
	case "not_in_channel":
		return fmt.Sprintf("the bot is not a member of channel %q: invite it with /invite @<bot name> in that channel", channel), true
	case "is_archived", "channel_is_archived":
		return fmt.Sprintf("channel %q is archived: unarchive it or configure another channel", channel), true
	case "restricted_action", "restricted_action_read_only_channel", "restricted_action_thread_only_channel", "restricted_action_non_threadable_channel":
		return fmt.Sprintf("the workspace does not let the bot post in channel %q: ask a Slack admin, or configure another channel", channel), true
	case "invalid_blocks", "invalid_blocks_format", "invalid_arguments", "invalid_metadata_format", "invalid_metadata_schema",
		"metadata_too_large", "msg_too_long", "no_text", "too_many_attachments", "invalid_form_data", "invalid_arg_name":
		return "Slack rejected the message format: this is a bug in Fledge, please report it with this error", true
	}
	return "", false
}

// classifyBotError turns what the Slack client returned into a PermanentError when no retry
// can help, and leaves transient errors (and *slack.RateLimitedError) as they are.
func classifyBotError(err error, channel string) error {
	var resp slack.SlackErrorResponse
	if errors.As(err, &resp) {
		if fix, ok := botFix(resp.Err, channel, resp); ok {
			return &PermanentError{Code: resp.Err, Fix: fix, err: err}
		}
		return err
	}
	var status slack.StatusCodeError
	if errors.As(err, &status) && permanentStatus(status.Code) {
		return &PermanentError{
			Code: fmt.Sprint(status.Code),
			Fix:  "the Slack API answered " + status.Status + ": check the notifier's API URL (leave it empty for Slack's)",
			err:  err,
		}
	}
	return err
}

// webhookFix says what to do about the HTTP statuses of incoming webhooks that no retry can fix
// (Slack answers invalid_token, no_service, channel_is_archived, ... in the body).
func webhookFix(code int) (string, bool) {
	switch code {
	case http.StatusBadRequest:
		return "Slack rejected the message (invalid_payload, or the channel is not allowed): check the channel override, else report a bug in Fledge", true
	case http.StatusForbidden:
		return "the webhook was revoked or posting there is prohibited: create a new incoming webhook and put its URL in the notifier's secret", true
	case http.StatusNotFound:
		return "the webhook does not exist (no_service or channel_not_found): create a new incoming webhook and put its URL in the notifier's secret", true
	case http.StatusGone:
		return "the webhook's channel is archived: unarchive it or create a webhook for another channel", true
	}
	if permanentStatus(code) {
		return fmt.Sprintf("the webhook answered HTTP %d: check the webhook URL in the notifier's secret", code), true
	}
	return "", false
}

// permanentStatus: client errors other than timeouts and rate limits will fail the same way again.
func permanentStatus(code int) bool {
	return code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests
}

// redactedError replaces an error whose text held a secret. Its chain keeps only what Deliver
// needs to decide (a sanitized PermanentError or a rate limit), never the original error, so
// that nothing can print the secret by unwrapping.
type redactedError struct {
	msg   string
	cause error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.cause }

// secret is a value that must not leak, and what to show instead.
type secret struct{ value, placeholder string }

// redact returns err unchanged when its text holds none of the secrets, and otherwise an error
// whose text has them replaced. List longer secrets first when one contains another.
func redact(err error, secrets ...secret) error {
	if err == nil {
		return nil
	}
	clean := func(s string) string {
		for _, sec := range secrets {
			if sec.value != "" {
				s = strings.ReplaceAll(s, sec.value, sec.placeholder)
			}
		}
		return s
	}
	msg := err.Error()
	if clean(msg) == msg {
		return err
	}
	r := &redactedError{msg: clean(msg)}
	var permanent *PermanentError
	var limited *slack.RateLimitedError
	switch {
	case errors.As(err, &permanent):
		r.cause = &PermanentError{Code: clean(permanent.Code), Fix: clean(permanent.Fix)}
	case errors.As(err, &limited):
		r.cause = &slack.RateLimitedError{RetryAfter: limited.RetryAfter}
	}
	return r
}
