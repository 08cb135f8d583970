package notifiers

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"fledge.dev/fledge/test/fakeslack"
)

func TestWebhookPostsOneMessagePerNotification(t *testing.T) {
	recv := fakeslack.NewWebhook(t)
	hook := newWebhook(t, recv, WebhookConfig{Channel: "#deploys", Username: "Fledge", IconEmoji: ":hatching_chick:"})

	for _, n := range []Notification{note(Started, "n1"), note(Halted, "n2"), note(Promoted, "n3")} {
		thread, err := hook.Send(context.Background(), n, nil)
		if err != nil {
			t.Fatalf("Send %s: %v", n.Kind, err)
		}
		if thread != nil {
			t.Errorf("a webhook returned a thread: %+v", thread)
		}
	}

	msgs := recv.Posts()
	if len(msgs) != 3 {
		t.Fatalf("%d messages, want 3", len(msgs))
	}
	if msgs[0].Channel != "#deploys" || msgs[0].Username != "Fledge" || msgs[0].IconEmoji != ":hatching_chick:" {
		t.Errorf("overrides = %q %q %q", msgs[0].Channel, msgs[0].Username, msgs[0].IconEmoji)
	}
	halted := textsOfJSON(t, string(msgs[1].Blocks))
	if halted[0] != "⚠️ payments/api: halted at 40%" {
		t.Errorf("header = %q", halted[0])
	}
	mustContain(t, "halted", halted, "*Cluster:* prod-eu", "▓▓▓▓░░░░░░ 40%", "*Failed checks*\n2 of 5",
		"❌ *latency-p99* 612", "kubectl fledge abort api -n payments")
	if !strings.Contains(msgs[1].Text, "payments/api: halted at 40%") {
		t.Errorf("fallback text = %q", msgs[1].Text)
	}
	mustNotContain(t, "promoted", textsOfJSON(t, string(msgs[2].Blocks)), "kubectl fledge")
}

func TestWebhookRefusalsArePermanentAndSayWhatToFix(t *testing.T) {
	for status, fix := range map[int]string{
		http.StatusForbidden: "create a new incoming webhook",
		http.StatusNotFound:  "create a new incoming webhook",
		http.StatusGone:      "archived",
	} {
		recv := fakeslack.NewWebhook(t)
		recv.FailNext(fakeslack.Fault{Status: status})
		_, err := newWebhook(t, recv, WebhookConfig{}).Send(context.Background(), note(Aborted, "n"), nil)
		if !IsPermanent(err) || !strings.Contains(err.Error(), fix) {
			t.Errorf("HTTP %d: %v; want a permanent error saying %q", status, err, fix)
		}
	}

	recv := fakeslack.NewWebhook(t)
	recv.FailNext(fakeslack.Fault{Status: http.StatusInternalServerError})
	_, err := newWebhook(t, recv, WebhookConfig{}).Send(context.Background(), note(Aborted, "n"), nil)
	if err == nil || IsPermanent(err) {
		t.Errorf("HTTP 500: %v; want a transient error", err)
	}
}

func TestNewSlackWebhookChecksURL(t *testing.T) {
	for _, u := range []string{"", "hooks.slack.com/services/x", "ftp://hooks.slack.com/services/x", "https://"} {
		if _, err := NewSlackWebhook(WebhookConfig{URL: u}); err == nil {
			t.Errorf("NewSlackWebhook accepted %q", u)
		}
	}
}
