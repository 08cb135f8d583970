package fakeslack

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
)

// WebhookPath is the path of the receiver's incoming webhook; its last segment plays the
// secret of a real webhook URL. Any other path answers 404 no_service.
const WebhookPath = "/services/T0FLEDGE/B0FLEDGE/WEBHOOKsecretPATHvalue"

// Webhook plays a Slack incoming webhook: it records the messages it accepts, after playing
// the faults queued or standing. Its methods are safe for concurrent use.
type Webhook struct {
	ep *endpoint

	mu     sync.Mutex
	posts  []WebhookPost
	faults faults
}

// WebhookPost is a message the webhook accepted. The blocks stay JSON (see BlockTexts).
type WebhookPost struct {
	Channel   string          `json:"channel"`
	Username  string          `json:"username"`
	IconEmoji string          `json:"icon_emoji"`
	Text      string          `json:"text"`
	Blocks    json.RawMessage `json:"blocks"`
}

// webhookMethod names the webhook's calls in the fault queues.
const webhookMethod = "webhook"

// NewWebhook starts a Webhook that t's cleanup closes.
func NewWebhook(tb testing.TB) *Webhook {
	tb.Helper()
	w, err := StartWebhook()
	if err != nil {
		tb.Fatalf("fakeslack: %v", err)
	}
	tb.Cleanup(w.Close)
	return w
}

// StartWebhook starts a Webhook; Close it when done.
func StartWebhook() (*Webhook, error) {
	w := &Webhook{faults: newFaults()}
	ep, err := startEndpoint(http.HandlerFunc(w.serve))
	if err != nil {
		return nil, err
	}
	w.ep = ep
	return w, nil
}

// Close stops the receiver for good, releasing calls that hang.
func (w *Webhook) Close() { w.ep.close() }

// URL is the incoming webhook's URL, secret path included.
func (w *Webhook) URL() string { return w.BaseURL() + WebhookPath }

// BaseURL is the receiver's scheme and address, to build URLs of webhooks that do not exist.
func (w *Webhook) BaseURL() string { return "http://" + w.ep.addr }

// FailNext queues faults for the next posts, in order; they come before an outage.
func (w *Webhook) FailNext(faults ...Fault) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.faults.next[webhookMethod] = append(w.faults.next[webhookMethod], faults...)
}

// StartOutage makes every post fail with f until EndOutage.
func (w *Webhook) StartOutage(f Fault) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.faults.outage = &f
}

// EndOutage ends StartOutage.
func (w *Webhook) EndOutage() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.faults.outage = nil
}

// ClearFaults drops the queued faults and ends an outage.
func (w *Webhook) ClearFaults() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.faults.clear()
}

// Down closes the receiver's address: posts are refused until Up. The posts are kept.
func (w *Webhook) Down() { w.ep.down() }

// Up listens again on the address Down closed.
func (w *Webhook) Up() error { return w.ep.up() }

// Calls counts the well-formed posts to WebhookPath, faults included.
func (w *Webhook) Calls() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.faults.counted[webhookMethod]
}

// FaultsPlayed counts the posts that met a fault, queued or standing.
func (w *Webhook) FaultsPlayed() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.faults.played[webhookMethod]
}

// Posts returns the messages accepted, in order.
func (w *Webhook) Posts() []WebhookPost {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]WebhookPost(nil), w.posts...)
}

func (w *Webhook) serve(rw http.ResponseWriter, req *http.Request) {
	if req.URL.Path != WebhookPath {
		http.Error(rw, "no_service", http.StatusNotFound)
		return
	}
	var p WebhookPost
	if err := json.NewDecoder(req.Body).Decode(&p); err != nil {
		http.Error(rw, "invalid_payload", http.StatusBadRequest)
		return
	}
	w.mu.Lock()
	f := w.faults.take(webhookMethod)
	w.mu.Unlock()

	switch {
	case f.hangsFirst():
		w.ep.hang(req)
		return
	case f.Status != 0 || f.SlackError != "":
		status, body := f.Status, f.SlackError
		if status == 0 {
			status = http.StatusBadRequest
		}
		if body == "" {
			body = "fault"
		}
		if f.RetryAfter != "" {
			rw.Header().Set("Retry-After", f.RetryAfter)
		}
		http.Error(rw, body, status)
		return
	}
	w.mu.Lock()
	w.posts = append(w.posts, p)
	w.mu.Unlock()
	if f.Hang {
		w.ep.hang(req)
		return
	}
	if f.LostReply {
		http.Error(rw, "response lost", http.StatusInternalServerError)
		return
	}
	_, _ = rw.Write([]byte("ok"))
}
