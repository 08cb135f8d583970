package notifiers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"fledge.dev/fledge/test/fakeslack"
)

const secretToken = "xoxb-9999-8888-TOPsecretTOKENvalue"

// assertNoSecret checks the error's text, its verbose form, and every error in its chain.
func assertNoSecret(t *testing.T, what string, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
		return
	}
	var texts []string
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		texts = append(texts, e.Error(), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e))
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		case interface{ Unwrap() []error }:
			for _, c := range u.Unwrap() {
				walk(c)
			}
		}
	}
	walk(err)
	for _, s := range secrets {
		for _, text := range texts {
			if strings.Contains(text, s) {
				t.Errorf("%s: the error leaks %q: %s", what, s, text)
			}
		}
	}
}

// always is more faults than a test can use up: Slack keeps failing.
func always(f fakeslack.Fault) []fakeslack.Fault {
	out := make([]fakeslack.Fault, 1000)
	for i := range out {
		out[i] = f
	}
	return out
}

func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func TestBotErrorsNeverHoldTheToken(t *testing.T) {
	quick := RetryPolicy{Initial: 10 * time.Millisecond, Max: 20 * time.Millisecond, GiveUpAfter: 300 * time.Millisecond}
	failures := map[string]fakeslack.Fault{
		"server error":           {Status: http.StatusInternalServerError},
		"rate limited":           {Status: http.StatusTooManyRequests, RetryAfter: "60"},
		"hanging":                {Hang: true},
		"unknown error code":     {SlackError: "fatal_error"},
		"error echoing a secret": {SlackError: "bad token " + secretToken},
		"not in channel":         {SlackError: "not_in_channel"},
	}
	for name, f := range failures {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fake := fakeslack.New(t)
			fake.SetToken(secretToken)
			bot := newBot(t, fake, BotConfig{Token: secretToken})
			fake.FailNext("conversations.history", always(f)...)
			_, err := Deliver(context.Background(), bot, note(Started, "n1"), nil, quick)
			assertNoSecret(t, name, err, secretToken, "TOPsecretTOKENvalue")
		})
	}

	t.Run("wrong token", func(t *testing.T) {
		t.Parallel()
		fake := fakeslack.New(t)
		bot := newBot(t, fake, BotConfig{Token: secretToken})
		_, err := Deliver(context.Background(), bot, note(Started, "n1"), nil, quick)
		if !IsPermanent(err) {
			t.Errorf("err = %v, want permanent", err)
		}
		assertNoSecret(t, "wrong token", err, secretToken)
	})
	t.Run("connection refused", func(t *testing.T) {
		t.Parallel()
		bot, err := NewSlackBot(BotConfig{Token: secretToken, Channel: fakeslack.Channel, APIURL: "http://" + closedAddr(t) + "/api/"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = Deliver(context.Background(), bot, note(Started, "n1"), nil, quick)
		assertNoSecret(t, "connection refused", err, secretToken)
	})
}

func TestBotMessagesNeverHoldTheToken(t *testing.T) {
	fake := fakeslack.New(t)
	fake.SetToken(secretToken)
	bot := newBot(t, fake, BotConfig{Token: secretToken})
	thread := send(t, bot, note(Started, "n1"), nil)
	send(t, bot, note(Aborted, "n2"), thread)
	messages := append(fake.TopLevel(), fake.Replies(thread.TS)...)
	// The rollout message and the Aborted reply: with none, the loop below would check nothing.
	if len(messages) != 2 {
		t.Fatalf("%d messages, want the rollout message and its Aborted reply: %+v", len(messages), messages)
	}
	for _, m := range messages {
		if strings.Contains(m.Text+m.Blocks+fmt.Sprint(m.Metadata), secretToken) {
			t.Errorf("a message holds the token: %+v", m)
		}
	}
}

func TestWebhookErrorsNeverHoldTheURL(t *testing.T) {
	quick := RetryPolicy{Initial: 10 * time.Millisecond, Max: 20 * time.Millisecond, GiveUpAfter: 300 * time.Millisecond}
	secrets := []string{fakeslack.WebhookPath, "WEBHOOKsecretPATHvalue", "B0FLEDGE/WEBHOOK"}
	for name, f := range map[string]fakeslack.Fault{
		"server error": {Status: http.StatusInternalServerError},
		"rate limited": {Status: http.StatusTooManyRequests, RetryAfter: "60"},
		"revoked":      {Status: http.StatusForbidden},
		"hanging":      {Hang: true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			recv := fakeslack.NewWebhook(t)
			recv.FailNext(always(f)...)
			_, err := Deliver(context.Background(), newWebhook(t, recv, WebhookConfig{}), note(Halted, "n1"), nil, quick)
			assertNoSecret(t, name, err, append(secrets, recv.URL())...)
			if !strings.Contains(err.Error(), "POST to the Slack webhook") {
				t.Errorf("%s: err = %v, want it to say what failed", name, err)
			}
		})
	}

	t.Run("unknown webhook", func(t *testing.T) {
		t.Parallel()
		recv := fakeslack.NewWebhook(t)
		url := recv.BaseURL() + "/services/T0FLEDGE/B0FLEDGE/REVOKEDsecretVALUE"
		_, err := Deliver(context.Background(), newWebhook(t, recv, WebhookConfig{URL: url}), note(Halted, "n1"), nil, quick)
		if !IsPermanent(err) {
			t.Errorf("err = %v, want permanent", err)
		}
		assertNoSecret(t, "unknown webhook", err, url, "REVOKEDsecretVALUE")
	})
	t.Run("connection refused", func(t *testing.T) {
		t.Parallel()
		url := "http://" + closedAddr(t) + fakeslack.WebhookPath
		hook, err := NewSlackWebhook(WebhookConfig{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		_, err = Deliver(context.Background(), hook, note(Halted, "n1"), nil, quick)
		assertNoSecret(t, "connection refused", err, append(secrets, url)...)
	})
	t.Run("invalid URL", func(t *testing.T) {
		_, err := NewSlackWebhook(WebhookConfig{URL: "ftp://hooks.slack.com" + fakeslack.WebhookPath})
		assertNoSecret(t, "invalid URL", err, secrets...)
	})
}

func TestRedactKeepsWhatDeliverNeeds(t *testing.T) {
	permanent := fmt.Errorf("calling https://hooks.example/SECRETpath: %w", &PermanentError{Code: "403", Fix: "new webhook"})
	got := redact(permanent, secret{"https://hooks.example/SECRETpath", "<redacted>"})
	if strings.Contains(got.Error(), "SECRET") || !strings.Contains(got.Error(), "<redacted>") || !IsPermanent(got) {
		t.Errorf("redact(permanent) = %v (permanent %v)", got, IsPermanent(got))
	}

	limited := fmt.Errorf("xoxb-SECRET: %w", &slack.RateLimitedError{RetryAfter: time.Second})
	var rl *slack.RateLimitedError
	if got := redact(limited, secret{"xoxb-SECRET", "<token>"}); !errors.As(got, &rl) || rl.RetryAfter != time.Second {
		t.Errorf("redact(rate limit) = %v lost the rate limit", got)
	}

	plain := errors.New("nothing to hide")
	if got := redact(plain, secret{"xoxb-SECRET", "<token>"}); got != plain {
		t.Errorf("redact changed an error without secrets: %v", got)
	}
}
