package fakeslack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

func client(s *Server) *slack.Client {
	return slack.New(Token, slack.OptionAPIURL(s.URL()), slack.OptionHTTPClient(&http.Client{Timeout: 5 * time.Second}))
}

func TestPostUpdateAndReplyAreStored(t *testing.T) {
	s := New(t)
	api := client(s)
	ch, ts, err := api.PostMessage(Channel, slack.MsgOptionText("first", false),
		slack.MsgOptionMetadata(slack.SlackMetadata{EventType: "e", EventPayload: map[string]any{"id": "n1"}}))
	if err != nil || ch != Channel {
		t.Fatalf("PostMessage = %s, %v", ch, err)
	}
	if _, _, _, err := api.UpdateMessage(ch, ts, slack.MsgOptionText("second", false)); err != nil {
		t.Fatalf("UpdateMessage: %v", err)
	}
	if _, _, err := api.PostMessage(ch, slack.MsgOptionText("reply", false), slack.MsgOptionTS(ts)); err != nil {
		t.Fatalf("reply: %v", err)
	}

	top := s.TopLevelIn(Channel)
	if len(top) != 1 || top[0].Text != "second" || top[0].Updates != 1 || top[0].Meta("id") != "n1" {
		t.Fatalf("top-level = %+v", top)
	}
	if v := top[0].Versions; len(v) != 2 || v[0].Text != "first" || v[1].Text != "second" {
		t.Errorf("versions = %+v", v)
	}
	if r := s.Replies(ts); len(r) != 1 || r[0].Text != "reply" {
		t.Errorf("replies = %+v", r)
	}
	if s.Calls("chat.postMessage") != 2 || s.Calls("chat.update") != 1 {
		t.Errorf("calls: %d posts, %d updates", s.Calls("chat.postMessage"), s.Calls("chat.update"))
	}
}

func TestFaultsQueuedThenOutageThenRecovery(t *testing.T) {
	s := New(t)
	api := client(s)
	post := func() error {
		_, _, err := api.PostMessage(Channel, slack.MsgOptionText("x", false))
		return err
	}
	s.FailNext("chat.postMessage", Fault{SlackError: "fatal_error"})
	if err := post(); err == nil || !strings.Contains(err.Error(), "fatal_error") {
		t.Errorf("queued fault: %v", err)
	}

	s.StartOutage(Fault{Status: http.StatusInternalServerError})
	if err := post(); err == nil {
		t.Error("a post went through during the outage")
	}
	s.EndOutage()

	s.Down()
	if err := post(); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("down: %v, want connection refused", err)
	}
	if err := s.Up(); err != nil {
		t.Fatal(err)
	}
	if err := post(); err != nil {
		t.Errorf("after Up: %v", err)
	}
	if n := len(s.TopLevel()); n != 1 {
		t.Errorf("%d messages, want the one posted after the faults", n)
	}
	if n := s.FaultsPlayed("chat.postMessage"); n != 2 {
		t.Errorf("%d faults played, want 2: the queued one and the outage", n)
	}
}

func TestHangIsReleasedByTheClient(t *testing.T) {
	s := New(t)
	s.FailNext("chat.postMessage", Fault{Hang: true})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, _, err := client(s).PostMessageContext(ctx, Channel, slack.MsgOptionText("x", false))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the client's deadline", err)
	}
}

func TestWebhookRecordsPostsAndPlaysFaults(t *testing.T) {
	w := NewWebhook(t)
	post := func(url string) error {
		return slack.PostWebhook(url, &slack.WebhookMessage{Text: "hello"})
	}
	w.FailNext(Fault{Status: http.StatusTooManyRequests, RetryAfter: "1"}, Fault{LostReply: true})
	var limited *slack.RateLimitedError
	if err := post(w.URL()); !errors.As(err, &limited) || limited.RetryAfter != time.Second {
		t.Errorf("rate limit: %v", err)
	}
	if err := post(w.URL()); err == nil {
		t.Error("lost reply answered ok")
	}
	if err := post(w.BaseURL() + "/services/T0/B0/unknown"); err == nil {
		t.Error("an unknown webhook answered ok")
	}
	if got := w.Posts(); len(got) != 1 || got[0].Text != "hello" || w.Calls() != 2 || w.FaultsPlayed() != 2 {
		t.Errorf("posts %+v after %d calls, %d faulty: want the one whose reply was lost, after 2 faulty calls", got, w.Calls(), w.FaultsPlayed())
	}
}

// Hang with LostReply: the post is stored, and the client never learns it.
func TestWorkDoneThenNoAnswer(t *testing.T) {
	s := New(t)
	s.FailNext("chat.postMessage", Fault{Hang: true, LostReply: true})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, _, err := client(s).PostMessageContext(ctx, Channel, slack.MsgOptionText("x", false))
	if !errors.Is(err, context.DeadlineExceeded) || len(s.TopLevel()) != 1 {
		t.Errorf("err = %v with %d messages, want the deadline and the message stored", err, len(s.TopLevel()))
	}
}

func TestListPagesThroughChannelsByTypeAndArchive(t *testing.T) {
	s := New(t)
	for i := range 5 {
		s.AddChannel(ChannelInfo{Name: fmt.Sprintf("team-%d", i)})
	}
	secret := s.AddChannel(ChannelInfo{ID: "GSECRET01", Name: "secret", Private: true})
	s.AddChannel(ChannelInfo{Name: "old", Archived: true})
	api := client(s)

	list := func(params slack.GetConversationsParameters) map[string]string {
		t.Helper()
		names := map[string]string{}
		for range 10 {
			channels, next, err := api.GetConversations(&params)
			if err != nil {
				t.Fatalf("GetConversations: %v", err)
			}
			if len(channels) > params.Limit && params.Limit > 0 {
				t.Fatalf("%d channels in a page of %d", len(channels), params.Limit)
			}
			for _, c := range channels {
				names[c.Name] = c.ID
			}
			if next == "" {
				return names
			}
			params.Cursor = next
		}
		t.Fatal("the cursor never ended")
		return nil
	}

	all := list(slack.GetConversationsParameters{Limit: 2, Types: []string{"public_channel", "private_channel"}, ExcludeArchived: true})
	if len(all) != 6 || all["team-3"] != "CTEAM30" || all["secret"] != secret.ID || all["old"] != "" {
		t.Errorf("public and private, archived left out: %v", all)
	}
	if public := list(slack.GetConversationsParameters{Limit: 4, Types: []string{"public_channel"}}); len(public) != 6 || public["secret"] != "" || public["old"] == "" {
		t.Errorf("public, archived included: %v", public)
	}
	if s.Calls("conversations.list") != 3+2 {
		t.Errorf("%d list calls, want 5 pages", s.Calls("conversations.list"))
	}
}

// A post to "#name" goes to the ID of the channel of that name, and makes an unknown name a
// channel that conversations.list shows.
func TestPostByNameUsesTheListedChannel(t *testing.T) {
	s := New(t)
	s.AddChannel(ChannelInfo{ID: "CDEPLOY042", Name: "deploys"})
	api := client(s)
	if ch, _, err := api.PostMessage("#deploys", slack.MsgOptionText("x", false)); err != nil || ch != "CDEPLOY042" {
		t.Errorf("post to #deploys went to %s, %v", ch, err)
	}
	if ch, _, err := api.PostMessage("#fresh", slack.MsgOptionText("x", false)); err != nil || ch != "CFRESH0" {
		t.Errorf("post to #fresh went to %s, %v", ch, err)
	}
	if ch, _, err := api.PostMessage("#web-deploys", slack.MsgOptionText("x", false)); err != nil || ch != "CWEBDEPLOYS" {
		t.Errorf("post to #web-deploys went to %s, %v", ch, err)
	}
	channels, _, err := api.GetConversations(&slack.GetConversationsParameters{})
	if err != nil || len(channels) != 3 || channels[1].ID != "CFRESH0" || channels[1].Name != "fresh" {
		t.Errorf("listed %+v, %v", channels, err)
	}
}

func TestHistoryPagesNewestFirstWithCursor(t *testing.T) {
	s := New(t)
	for i := range 7 {
		s.Seed(Message{Channel: Channel, Text: fmt.Sprint(i)})
	}
	s.Seed(Message{Channel: "COTHER0001", Text: "elsewhere"})
	params := &slack.GetConversationHistoryParameters{ChannelID: Channel, Limit: 3}
	var texts []string
	for range 10 {
		h, err := client(s).GetConversationHistory(params)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range h.Messages {
			texts = append(texts, m.Text)
		}
		if !h.HasMore {
			if h.ResponseMetaData.NextCursor != "" {
				t.Errorf("a cursor on the last page: %q", h.ResponseMetaData.NextCursor)
			}
			break
		}
		params.Cursor = h.ResponseMetaData.NextCursor
	}
	if got := strings.Join(texts, ","); got != "6,5,4,3,2,1,0" {
		t.Errorf("history = %s", got)
	}
}

// A message's ts is when it was posted, as Slack's: a search of the history since a time finds
// what was posted after it, however long the server has run. (The fake once numbered messages
// from its start, so that after ten minutes the bot's search since a rollout's start found
// nothing and posted the rollout's message again.)
func TestHistorySinceATimeHoldsWhatWasPostedAfterIt(t *testing.T) {
	s := New(t)
	api := client(s)
	time.Sleep(1100 * time.Millisecond) // the server's start falls in an earlier second
	before := time.Now()
	_, ts, err := api.PostMessage(Channel, slack.MsgOptionText("late", false))
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	for _, c := range []struct {
		oldest time.Time
		want   int
	}{{before.Add(-time.Millisecond), 1}, {after.Add(time.Millisecond), 0}} {
		h, err := api.GetConversationHistory(&slack.GetConversationHistoryParameters{
			ChannelID: Channel, Oldest: fmt.Sprintf("%d.%06d", c.oldest.Unix(), c.oldest.Nanosecond()/1000),
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(h.Messages) != c.want {
			t.Errorf("history since %s: %d messages, want %d (the message's ts is %s)", c.oldest.Format(time.StampMicro), len(h.Messages), c.want, ts)
		}
	}
}
