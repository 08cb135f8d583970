package notifiers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"
)

// fakeSlack is slacktest's server with stateful handlers for what Fledge calls: chat.postMessage
// (slacktest's own keeps no messages, reuses timestamps and drops metadata), chat.update,
// conversations.replies and conversations.history (slacktest has neither). Like Slack, it
// returns metadata only when include_all_metadata is set, and answers ok:false with an error
// code for a bad token or an unknown channel.
type fakeSlack struct {
	server *slacktest.Server
	token  string

	mu       sync.Mutex
	messages []*fakeMessage
	epoch    int64 // timestamps are epoch.000001, epoch.000002, ...: unique and recent
	nextTS   int
	calls    map[string]int
	faults   map[string][]fault
	stop     chan struct{}
}

// fakeMessage is a message as the fake Slack stores it.
type fakeMessage struct {
	Channel, TS, ThreadTS string
	Text, Blocks          string // as sent: the blocks are JSON
	Username, IconEmoji   string
	Metadata              *slack.SlackMetadata
	Updates               int
	Deleted               bool
}

// fault is how one call to a method goes wrong.
type fault struct {
	status     int    // an HTTP status other than 200
	retryAfter string // with status 429
	slackError string // ok:false with this error code
	hang       bool   // never answer
	lostReply  bool   // do the work, then answer 500 as if the response were lost
}

const (
	goodToken    = "xoxb-1234-5678-GOODtokenVALUE"
	testChannel  = "CFLEDGE001"
	missingChan  = "CMISSING01"
	testRevision = "7f9c2d1"
)

func newFakeSlack(t *testing.T) *fakeSlack {
	t.Helper()
	f := &fakeSlack{
		token:  goodToken,
		epoch:  time.Now().Unix(),
		nextTS: 1,
		calls:  map[string]int{},
		faults: map[string][]fault{},
		stop:   make(chan struct{}),
	}
	f.server = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", f.handler("chat.postMessage", f.postMessage))
		c.Handle("/chat.update", f.handler("chat.update", f.update))
		c.Handle("/conversations.replies", f.handler("conversations.replies", f.replies))
		c.Handle("/conversations.history", f.handler("conversations.history", f.history))
	})
	f.server.Start()
	t.Cleanup(func() {
		close(f.stop) // release hanging handlers before the server waits for them
		f.server.Stop()
	})
	return f
}

func (f *fakeSlack) url() string { return f.server.GetAPIURL() }

func (f *fakeSlack) bot(t *testing.T, cfg BotConfig) *SlackBot {
	t.Helper()
	if cfg.Token == "" {
		cfg.Token = f.token
	}
	if cfg.Channel == "" {
		cfg.Channel = testChannel
	}
	if cfg.APIURL == "" {
		cfg.APIURL = f.url()
	}
	b, err := NewSlackBot(cfg)
	if err != nil {
		t.Fatalf("NewSlackBot: %v", err)
	}
	return b
}

// failNext queues faults for the next calls of method, in order.
func (f *fakeSlack) failNext(method string, faults ...fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[method] = append(f.faults[method], faults...)
}

func (f *fakeSlack) callCount(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

// topLevel returns the copies of the messages that are not thread replies.
func (f *fakeSlack) topLevel() []fakeMessage {
	return f.filter(func(m *fakeMessage) bool { return m.ThreadTS == "" })
}

// thread returns the copies of the replies to ts.
func (f *fakeSlack) thread(ts string) []fakeMessage {
	return f.filter(func(m *fakeMessage) bool { return m.ThreadTS == ts })
}

func (f *fakeSlack) filter(keep func(*fakeMessage) bool) []fakeMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeMessage
	for _, m := range f.messages {
		if !m.Deleted && keep(m) {
			out = append(out, *m)
		}
	}
	return out
}

// seedReplies adds n Fledge replies to a thread, with the notification IDs r0, r1, ...
func (f *fakeSlack) seedReplies(t Thread, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range n {
		f.messages = append(f.messages, &fakeMessage{
			Channel: t.Channel, ThreadTS: t.TS, Text: "seeded",
			TS: fmt.Sprintf("%d.%06d", f.epoch, f.nextTS),
			Metadata: &slack.SlackMetadata{EventType: metadataEventType, EventPayload: map[string]any{
				metaNotificationID: fmt.Sprintf("r%d", i), metaRole: roleReply,
			}},
		})
		f.nextTS++
	}
}

func (f *fakeSlack) delete(ts string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.messages {
		if m.TS == ts {
			m.Deleted = true
		}
	}
}

type apiHandler func(form map[string][]string) (response map[string]any)

// handler counts the call, plays the queued fault, checks the token and runs h.
func (f *fakeSlack) handler(method string, h apiHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.calls[method]++
		var flt fault
		if q := f.faults[method]; len(q) > 0 {
			flt, f.faults[method] = q[0], q[1:]
		}
		f.mu.Unlock()

		switch {
		case flt.hang:
			select {
			case <-r.Context().Done():
			case <-f.stop:
			}
			return
		case flt.status != 0:
			if flt.retryAfter != "" {
				w.Header().Set("Retry-After", flt.retryAfter)
			}
			http.Error(w, "fault", flt.status)
			return
		case flt.slackError != "":
			writeJSON(w, map[string]any{"ok": false, "error": flt.slackError})
			return
		}

		token := r.Form.Get("token")
		if token == "" {
			token = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		}
		if token != f.token {
			writeJSON(w, map[string]any{"ok": false, "error": "invalid_auth"})
			return
		}
		if ch := r.Form.Get("channel"); ch == missingChan {
			writeJSON(w, map[string]any{"ok": false, "error": "channel_not_found"})
			return
		}
		resp := h(r.Form)
		if flt.lostReply {
			http.Error(w, "response lost", http.StatusInternalServerError)
			return
		}
		writeJSON(w, resp)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// channelID resolves "#name" the way Slack does: the API answers with IDs.
func resolveChannel(ch string) string {
	if name, ok := strings.CutPrefix(ch, "#"); ok {
		return "C" + strings.ToUpper(name)
	}
	return ch
}

func (f *fakeSlack) postMessage(form map[string][]string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := &fakeMessage{
		Channel:   resolveChannel(get(form, "channel")),
		TS:        fmt.Sprintf("%d.%06d", f.epoch, f.nextTS),
		ThreadTS:  get(form, "thread_ts"),
		Text:      get(form, "text"),
		Blocks:    get(form, "blocks"),
		Username:  get(form, "username"),
		IconEmoji: get(form, "icon_emoji"),
		Metadata:  parseMetadata(get(form, "metadata")),
	}
	f.nextTS++
	f.messages = append(f.messages, m)
	return map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS, "message": f.wire(m, true)}
}

func (f *fakeSlack) update(form map[string][]string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	channel, ts := get(form, "channel"), get(form, "ts")
	for _, m := range f.messages {
		if m.Channel == channel && m.TS == ts && !m.Deleted {
			m.Text, m.Blocks, m.Updates = get(form, "text"), get(form, "blocks"), m.Updates+1
			if md := parseMetadata(get(form, "metadata")); md != nil {
				m.Metadata = md
			}
			return map[string]any{"ok": true, "channel": channel, "ts": ts, "text": m.Text}
		}
	}
	return map[string]any{"ok": false, "error": "message_not_found"}
}

// replies pages through a thread, the parent first, with an offset as cursor.
func (f *fakeSlack) replies(form map[string][]string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	channel, ts := get(form, "channel"), get(form, "ts")
	withMeta := get(form, "include_all_metadata") == "1"
	var thread []map[string]any
	for _, m := range f.messages {
		if m.Channel == channel && !m.Deleted && (m.TS == ts || m.ThreadTS == ts) {
			thread = append(thread, f.wire(m, withMeta))
		}
	}
	if len(thread) == 0 {
		return map[string]any{"ok": false, "error": "thread_not_found"}
	}
	return page(thread, form)
}

// history lists a channel's top-level messages, newest first.
func (f *fakeSlack) history(form map[string][]string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	channel, oldest := get(form, "channel"), get(form, "oldest")
	withMeta := get(form, "include_all_metadata") == "1"
	var msgs []map[string]any
	for _, m := range slices.Backward(f.messages) {
		if m.Channel == channel && !m.Deleted && m.ThreadTS == "" && (oldest == "" || m.TS > oldest) {
			msgs = append(msgs, f.wire(m, withMeta))
		}
	}
	return page(msgs, form)
}

func page(msgs []map[string]any, form map[string][]string) map[string]any {
	from, _ := strconv.Atoi(get(form, "cursor"))
	limit, _ := strconv.Atoi(get(form, "limit"))
	if limit <= 0 {
		limit = 100
	}
	to := min(from+limit, len(msgs))
	resp := map[string]any{"ok": true, "messages": msgs[min(from, len(msgs)):to], "has_more": to < len(msgs)}
	if to < len(msgs) {
		resp["response_metadata"] = map[string]any{"next_cursor": strconv.Itoa(to)}
	}
	return resp
}

// wire is a message as the Web API returns it.
func (f *fakeSlack) wire(m *fakeMessage, withMeta bool) map[string]any {
	out := map[string]any{"type": "message", "ts": m.TS, "text": m.Text, "bot_id": "B0FLEDGE"}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
	}
	if withMeta && m.Metadata != nil {
		out["metadata"] = m.Metadata
	}
	return out
}

func get(form map[string][]string, key string) string {
	if v := form[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func parseMetadata(s string) *slack.SlackMetadata {
	if s == "" {
		return nil
	}
	var md slack.SlackMetadata
	if json.Unmarshal([]byte(s), &md) != nil {
		return nil
	}
	return &md
}
