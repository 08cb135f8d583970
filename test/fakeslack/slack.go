// Package fakeslack plays Slack for tests: a stateful Web API server that stores what Fledge
// posts (chat.postMessage, chat.update, chat.delete, conversations.replies, conversations.history,
// conversations.list) and an incoming-webhook receiver, both with fault injection: HTTP
// statuses, rate limits with
// Retry-After, Slack error codes, calls that hang, lost responses, and outages (every call
// fails, or the address refuses connections) that end.
//
// Use New or NewWebhook in a Go test (closed by t.Cleanup), or Start and StartWebhook with
// Close elsewhere (a Ginkgo BeforeSuite).
package fakeslack

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

// The identities the fake knows.
const (
	// Token is the bot token the server accepts (until SetToken); any other is invalid_auth.
	Token = "xoxb-1234-5678-GOODtokenVALUE"
	// Channel is a channel ID to post to. Any ID works except MissingChannel; a "#name" is
	// answered with the ID of the channel of that name (see AddChannel), else with NameID(name),
	// as Slack answers with IDs.
	Channel = "CFLEDGE001"
	// MissingChannel answers channel_not_found.
	MissingChannel = "CMISSING01"
	// BotID is the bot_id of every message.
	BotID = "B0FLEDGE"
)

// Server is the fake Slack Web API. Its methods are safe for concurrent use.
type Server struct {
	ep *endpoint

	mu       sync.Mutex
	token    string
	messages []*Message
	channels []ChannelInfo // in the order they became known
	// lastTS is the last message timestamp given, in microseconds: as Slack's, a message's ts
	// is when it was posted, and unique in its channel.
	lastTS int64
	faults faults
}

// Message is a message as the fake stores it.
type Message struct {
	Channel, TS, ThreadTS string
	// Text and Blocks are the current content; the blocks are JSON as sent.
	Text, Blocks        string
	Username, IconEmoji string
	Metadata            *slack.SlackMetadata
	// Versions are every content the message had, the post first, then each chat.update.
	Versions []Content
	// Updates counts the chat.update calls that changed the message.
	Updates int
	Deleted bool
}

// ChannelInfo is a channel as conversations.list shows it.
type ChannelInfo struct {
	ID, Name          string
	Private, Archived bool
}

// Content is a message's text, blocks and metadata at one time.
type Content struct {
	Text, Blocks string
	Metadata     *slack.SlackMetadata
}

// Meta returns a value of the message's metadata payload as text, "" when absent.
func (m Message) Meta(key string) string { return metaValue(m.Metadata, key) }

// Meta returns a value of the content's metadata payload as text, "" when absent.
func (c Content) Meta(key string) string { return metaValue(c.Metadata, key) }

func metaValue(md *slack.SlackMetadata, key string) string {
	if md == nil {
		return ""
	}
	v, ok := md.EventPayload[key]
	if !ok {
		return ""
	}
	return fmt.Sprint(v)
}

// New starts a Server that t's cleanup closes.
func New(tb testing.TB) *Server {
	tb.Helper()
	s, err := Start()
	if err != nil {
		tb.Fatalf("fakeslack: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Start starts a Server; Close it when done.
func Start() (*Server, error) {
	s := &Server{token: Token, faults: newFaults()}
	mux := http.NewServeMux()
	mux.Handle("/api/chat.postMessage", s.handler("chat.postMessage", s.postMessage))
	mux.Handle("/api/chat.update", s.handler("chat.update", s.update))
	mux.Handle("/api/chat.delete", s.handler("chat.delete", s.deleteMessage))
	mux.Handle("/api/conversations.replies", s.handler("conversations.replies", s.replies))
	mux.Handle("/api/conversations.history", s.handler("conversations.history", s.history))
	mux.Handle("/api/conversations.list", s.handler("conversations.list", s.list))
	mux.HandleFunc("/api/", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]any{"ok": false, "error": "unknown_method"})
	})
	ep, err := startEndpoint(mux)
	if err != nil {
		return nil, err
	}
	s.ep = ep
	return s, nil
}

// Close stops the server for good, releasing calls that hang.
func (s *Server) Close() { s.ep.close() }

// URL is the Web API base URL, to use in place of https://slack.com/api/.
func (s *Server) URL() string { return "http://" + s.ep.addr + "/api/" }

// SetToken changes the token the server accepts.
func (s *Server) SetToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

// FailNext queues faults for the next calls of method ("chat.update"...), in order. Queued
// faults come before an outage.
func (s *Server) FailNext(method string, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.next[method] = append(s.faults.next[method], faults...)
}

// StartOutage makes every call fail with f until EndOutage.
func (s *Server) StartOutage(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.outage = &f
}

// EndOutage ends StartOutage.
func (s *Server) EndOutage() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.outage = nil
}

// ClearFaults drops the queued faults and ends an outage.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.clear()
}

// Down closes the server's address: calls are refused until Up. The messages are kept.
func (s *Server) Down() { s.ep.down() }

// Up listens again on the address Down closed.
func (s *Server) Up() error { return s.ep.up() }

// Calls counts the calls of method that reached the server, faults included.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.counted[method]
}

// FaultsPlayed counts the calls of method that met a fault, queued or standing.
func (s *Server) FaultsPlayed(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.played[method]
}

// Messages returns copies of every message not deleted, thread replies included, in the
// order they were posted.
func (s *Server) Messages() []Message {
	return s.filter(func(*Message) bool { return true })
}

// TopLevel returns copies of the messages that are not thread replies.
func (s *Server) TopLevel() []Message {
	return s.filter(func(m *Message) bool { return m.ThreadTS == "" })
}

// TopLevelIn returns copies of the top-level messages of one channel.
func (s *Server) TopLevelIn(channel string) []Message {
	return s.filter(func(m *Message) bool { return m.ThreadTS == "" && m.Channel == channel })
}

// Replies returns copies of the replies in the thread of ts, oldest first.
func (s *Server) Replies(ts string) []Message {
	return s.filter(func(m *Message) bool { return m.ThreadTS == ts })
}

func (s *Server) filter(keep func(*Message) bool) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.messages {
		if !m.Deleted && keep(m) {
			c := *m
			c.Versions = slices.Clone(m.Versions)
			out = append(out, c)
		}
	}
	return out
}

// NameID is the ID the fake gives a channel known by name only: "C" and the name's letters and
// digits in upper case ("#deploys" is CDEPLOYS), padded with zeros to look like a Slack ID.
func NameID(name string) string {
	id := "C" + strings.ToUpper(strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return -1
	}, strings.TrimPrefix(name, "#")))
	for len(id) < 7 {
		id += "0"
	}
	return id
}

// AddChannel makes a channel known: conversations.list lists it, and posts to "#" + its name
// go to its ID. An empty ID is NameID(name). A channel also becomes known when a message is
// posted to its "#name". It returns the channel as stored.
func (s *Server) AddChannel(c ChannelInfo) ChannelInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addChannel(c)
}

func (s *Server) addChannel(c ChannelInfo) ChannelInfo {
	c.Name = strings.TrimPrefix(c.Name, "#")
	if c.ID == "" {
		c.ID = NameID(c.Name)
	}
	for i, known := range s.channels {
		if known.ID == c.ID {
			s.channels[i] = c
			return c
		}
	}
	s.channels = append(s.channels, c)
	return c
}

// Seed stores m as if it had been posted, with the next timestamp, and returns the stored copy.
func (s *Server) Seed(m Message) Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	m.TS = s.newTS()
	m.Versions = []Content{{Text: m.Text, Blocks: m.Blocks, Metadata: m.Metadata}}
	m.Updates = 0
	stored := m
	s.messages = append(s.messages, &stored)
	return m
}

// Delete deletes the message ts, as a person can in Slack.
func (s *Server) Delete(ts string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.messages {
		if m.TS == ts {
			m.Deleted = true
		}
	}
}

// newTS is the ts of a message posted now: the time in seconds and microseconds, as Slack
// gives it, one microsecond on from the last when two posts fall in the same microsecond. A
// search of the history since a time (oldest) sees the messages posted after that time.
func (s *Server) newTS() string {
	s.lastTS = max(time.Now().UnixMicro(), s.lastTS+1)
	return fmt.Sprintf("%d.%06d", s.lastTS/1e6, s.lastTS%1e6)
}

type apiHandler func(form map[string][]string) (response map[string]any)

// handler counts the call, plays its fault, checks the token and the channel, and runs h.
func (s *Server) handler(method string, h apiHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		f := s.faults.take(method)
		want := s.token
		s.mu.Unlock()

		switch {
		case f.hangsFirst():
			s.ep.hang(r)
			return
		case f.Status != 0:
			if f.RetryAfter != "" {
				w.Header().Set("Retry-After", f.RetryAfter)
			}
			http.Error(w, "fault", f.Status)
			return
		case f.SlackError != "":
			writeJSON(w, map[string]any{"ok": false, "error": f.SlackError})
			return
		}

		token := r.Form.Get("token")
		if token == "" {
			token = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		}
		if token != want {
			writeJSON(w, map[string]any{"ok": false, "error": "invalid_auth"})
			return
		}
		if r.Form.Get("channel") == MissingChannel {
			writeJSON(w, map[string]any{"ok": false, "error": "channel_not_found"})
			return
		}
		resp := h(r.Form)
		if f.Hang {
			s.ep.hang(r)
			return
		}
		if f.LostReply {
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

// resolveChannel answers "#name" with an ID, the way Slack does: the ID of the channel of that
// name, or of a new channel NameID(name). The caller holds s.mu.
func (s *Server) resolveChannel(ch string) string {
	name, ok := strings.CutPrefix(ch, "#")
	if !ok {
		return ch
	}
	for _, c := range s.channels {
		if strings.EqualFold(c.Name, name) {
			return c.ID
		}
	}
	return s.addChannel(ChannelInfo{Name: name}).ID
}

func (s *Server) postMessage(form map[string][]string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := &Message{
		Channel:   s.resolveChannel(get(form, "channel")),
		TS:        s.newTS(),
		ThreadTS:  get(form, "thread_ts"),
		Text:      get(form, "text"),
		Blocks:    get(form, "blocks"),
		Username:  get(form, "username"),
		IconEmoji: get(form, "icon_emoji"),
		Metadata:  parseMetadata(get(form, "metadata")),
	}
	m.Versions = []Content{{Text: m.Text, Blocks: m.Blocks, Metadata: m.Metadata}}
	s.messages = append(s.messages, m)
	return map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS, "message": wire(m, true)}
}

func (s *Server) update(form map[string][]string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	channel, ts := get(form, "channel"), get(form, "ts")
	for _, m := range s.messages {
		if m.Channel == channel && m.TS == ts && !m.Deleted {
			m.Text, m.Blocks, m.Updates = get(form, "text"), get(form, "blocks"), m.Updates+1
			if md := parseMetadata(get(form, "metadata")); md != nil {
				m.Metadata = md
			}
			m.Versions = append(m.Versions, Content{Text: m.Text, Blocks: m.Blocks, Metadata: m.Metadata})
			return map[string]any{"ok": true, "channel": channel, "ts": ts, "text": m.Text}
		}
	}
	return map[string]any{"ok": false, "error": "message_not_found"}
}

// deleteMessage removes a message, as chat.delete does for the bot's own messages.
func (s *Server) deleteMessage(form map[string][]string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	channel, ts := get(form, "channel"), get(form, "ts")
	for _, m := range s.messages {
		if m.Channel == channel && m.TS == ts && !m.Deleted {
			m.Deleted = true
			return map[string]any{"ok": true, "channel": channel, "ts": ts}
		}
	}
	return map[string]any{"ok": false, "error": "message_not_found"}
}

// replies pages through a thread, the parent first, with an offset as cursor. Like Slack, it
// returns metadata only when include_all_metadata is set.
func (s *Server) replies(form map[string][]string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	channel, ts := get(form, "channel"), get(form, "ts")
	withMeta := get(form, "include_all_metadata") == "1"
	var thread []map[string]any
	for _, m := range s.messages {
		if m.Channel == channel && !m.Deleted && (m.TS == ts || m.ThreadTS == ts) {
			thread = append(thread, wire(m, withMeta))
		}
	}
	if len(thread) == 0 {
		return map[string]any{"ok": false, "error": "thread_not_found"}
	}
	return page(thread, form)
}

// history lists a channel's top-level messages, newest first.
func (s *Server) history(form map[string][]string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	channel, oldest := get(form, "channel"), get(form, "oldest")
	withMeta := get(form, "include_all_metadata") == "1"
	var msgs []map[string]any
	for _, m := range slices.Backward(s.messages) {
		if m.Channel == channel && !m.Deleted && m.ThreadTS == "" && (oldest == "" || m.TS > oldest) {
			msgs = append(msgs, wire(m, withMeta))
		}
	}
	return page(msgs, form)
}

// list pages through the known channels in the order they became known, with an offset as
// cursor, honouring types (public_channel, private_channel; both when absent) and
// exclude_archived. Like Slack, it may return fewer than limit channels, and it refuses a limit
// above 1000.
func (s *Server) list(form map[string][]string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	types := get(form, "types")
	if types == "" {
		types = "public_channel,private_channel"
	}
	wanted := strings.Split(types, ",")
	excludeArchived := get(form, "exclude_archived") == "true" || get(form, "exclude_archived") == "1"
	if limit, _ := strconv.Atoi(get(form, "limit")); limit > 1000 {
		return map[string]any{"ok": false, "error": "invalid_limit"}
	}
	var channels []map[string]any
	for _, c := range s.channels {
		kind := map[bool]string{false: "public_channel", true: "private_channel"}[c.Private]
		if !slices.Contains(wanted, kind) || (excludeArchived && c.Archived) {
			continue
		}
		channels = append(channels, map[string]any{
			"id": c.ID, "name": c.Name, "is_channel": true, "is_private": c.Private, "is_archived": c.Archived,
		})
	}
	resp := page(channels, form)
	resp["channels"] = resp["messages"]
	delete(resp, "messages")
	return resp
}

// page answers one page of items, as "messages", with an offset as cursor. Like Slack, it
// always sets response_metadata, with an empty next_cursor on the last page.
func page(items []map[string]any, form map[string][]string) map[string]any {
	from, _ := strconv.Atoi(get(form, "cursor"))
	limit, _ := strconv.Atoi(get(form, "limit"))
	if limit <= 0 {
		limit = 100
	}
	from = min(max(from, 0), len(items))
	to := min(from+limit, len(items))
	next := ""
	if to < len(items) {
		next = strconv.Itoa(to)
	}
	return map[string]any{
		"ok": true, "messages": items[from:to], "has_more": to < len(items),
		"response_metadata": map[string]any{"next_cursor": next},
	}
}

// wire is a message as the Web API returns it.
func wire(m *Message, withMeta bool) map[string]any {
	out := map[string]any{"type": "message", "ts": m.TS, "text": m.Text, "bot_id": BotID}
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

// BlockTexts collects the "text" strings of Block Kit JSON, in order, as Slack shows them.
func BlockTexts(blocks string) ([]string, error) {
	var v any
	if err := json.Unmarshal([]byte(blocks), &v); err != nil {
		return nil, fmt.Errorf("fakeslack: blocks %q: %w", blocks, err)
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			// The text of an element first, then what it holds, in a stable order.
			if s, ok := v["text"].(string); ok {
				out = append(out, s)
			} else if t, ok := v["text"]; ok {
				walk(t)
			}
			for _, k := range slices.Sorted(maps.Keys(v)) {
				if k != "text" {
					walk(v[k])
				}
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(v)
	return out, nil
}
