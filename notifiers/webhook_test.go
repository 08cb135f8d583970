package notifiers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

const webhookPath = "/services/T0FLEDGE/B0FLEDGE/WEBHOOKsecretPATHvalue"

// webhookReceiver plays Slack's incoming webhook: it records the messages it accepts and plays
// queued faults first.
type webhookReceiver struct {
	server *httptest.Server
	stop   chan struct{}

	mu       sync.Mutex
	received []webhookPayload
	calls    int
	faults   []fault
}

// webhookPayload is what the receiver decodes; blocks stay JSON for textsOfJSON.
type webhookPayload struct {
	Channel   string          `json:"channel"`
	Username  string          `json:"username"`
	IconEmoji string          `json:"icon_emoji"`
	Text      string          `json:"text"`
	Blocks    json.RawMessage `json:"blocks"`
}

func newWebhookReceiver(t *testing.T) *webhookReceiver {
	t.Helper()
	r := &webhookReceiver{stop: make(chan struct{})}
	r.server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(func() {
		close(r.stop)
		r.server.Close()
	})
	return r
}

func (r *webhookReceiver) url() string { return r.server.URL + webhookPath }

func (r *webhookReceiver) webhook(t *testing.T, cfg WebhookConfig) *SlackWebhook {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL = r.url()
	}
	w, err := NewSlackWebhook(cfg)
	if err != nil {
		t.Fatalf("NewSlackWebhook: %v", err)
	}
	return w
}

func (r *webhookReceiver) failNext(faults ...fault) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults = append(r.faults, faults...)
}

func (r *webhookReceiver) messages() []webhookPayload {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]webhookPayload(nil), r.received...)
}

func (r *webhookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path != webhookPath {
		http.Error(w, "no_service", http.StatusNotFound)
		return
	}
	var p webhookPayload
	if err := json.NewDecoder(req.Body).Decode(&p); err != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.calls++
	var f fault
	if len(r.faults) > 0 {
		f, r.faults = r.faults[0], r.faults[1:]
	}
	r.mu.Unlock()

	switch {
	case f.hang:
		select {
		case <-req.Context().Done():
		case <-r.stop:
		}
		return
	case f.status != 0:
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		http.Error(w, "fault", f.status)
		return
	}
	r.mu.Lock()
	r.received = append(r.received, p)
	r.mu.Unlock()
	_, _ = w.Write([]byte("ok"))
}

func TestWebhookPostsOneMessagePerNotification(t *testing.T) {
	recv := newWebhookReceiver(t)
	hook := recv.webhook(t, WebhookConfig{Channel: "#deploys", Username: "Fledge", IconEmoji: ":hatching_chick:"})

	for _, n := range []Notification{note(Started, "n1"), note(Halted, "n2"), note(Promoted, "n3")} {
		thread, err := hook.Send(context.Background(), n, nil)
		if err != nil {
			t.Fatalf("Send %s: %v", n.Kind, err)
		}
		if thread != nil {
			t.Errorf("a webhook returned a thread: %+v", thread)
		}
	}

	msgs := recv.messages()
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
		recv := newWebhookReceiver(t)
		recv.failNext(fault{status: status})
		_, err := recv.webhook(t, WebhookConfig{}).Send(context.Background(), note(Aborted, "n"), nil)
		if !IsPermanent(err) || !strings.Contains(err.Error(), fix) {
			t.Errorf("HTTP %d: %v; want a permanent error saying %q", status, err, fix)
		}
	}

	recv := newWebhookReceiver(t)
	recv.failNext(fault{status: http.StatusInternalServerError})
	_, err := recv.webhook(t, WebhookConfig{}).Send(context.Background(), note(Aborted, "n"), nil)
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
