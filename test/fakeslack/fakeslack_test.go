package fakeslack

import (
	"context"
	"errors"
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
