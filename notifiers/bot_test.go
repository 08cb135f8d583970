package notifiers

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"fledge.dev/fledge/test/fakeslack"
)

func send(t *testing.T, s Sender, n Notification, thread *Thread) *Thread {
	t.Helper()
	got, err := s.Send(context.Background(), n, thread)
	if err != nil {
		t.Fatalf("Send(%s %s): %v", n.Kind, n.ID, err)
	}
	return got
}

func TestBotPostsOnceThenUpdatesInPlace(t *testing.T) {
	fake := fakeslack.New(t)
	bot := newBot(t, fake, BotConfig{Username: "Fledge", IconEmoji: ":hatching_chick:"})

	thread := send(t, bot, note(Started, "n1"), nil)
	if thread == nil || thread.Channel != fakeslack.Channel || thread.TS == "" {
		t.Fatalf("first send returned thread %+v", thread)
	}
	first := fake.TopLevel()
	if len(first) != 1 {
		t.Fatalf("%d top-level messages after the first send, want 1", len(first))
	}
	if first[0].Username != "Fledge" || first[0].IconEmoji != ":hatching_chick:" {
		t.Errorf("posted as %q %q", first[0].Username, first[0].IconEmoji)
	}
	mustContain(t, "first post", textsOfJSON(t, first[0].Blocks), "rollout started", "░░░░░░░░░░ 0%")

	kinds := []Kind{Advanced, Halted, Advanced, Promoting, Promoted}
	for i, kind := range kinds {
		n := note(kind, fmt.Sprintf("n%d", i+2))
		next := send(t, bot, n, thread)
		if *next != *thread {
			t.Fatalf("%s moved the thread from %+v to %+v", kind, thread, next)
		}
	}

	msgs := fake.TopLevel()
	if len(msgs) != 1 {
		t.Fatalf("%d top-level messages, want 1 updated in place", len(msgs))
	}
	main := msgs[0]
	if main.TS != thread.TS || main.Updates != len(kinds) {
		t.Errorf("message %s updated %d times, want %s updated %d times", main.TS, main.Updates, thread.TS, len(kinds))
	}
	texts := textsOfJSON(t, main.Blocks)
	if texts[0] != "✅ payments/api: promoted" {
		t.Errorf("header after the last update = %q", texts[0])
	}
	mustNotContain(t, "last update", texts, "rollout started", "kubectl fledge")
	if !strings.Contains(main.Text, "promoted") {
		t.Errorf("fallback text not updated: %q", main.Text)
	}

	replies := fake.Replies(thread.TS)
	if len(replies) != 2 {
		t.Fatalf("%d replies, want 2 (Halted, Promoted): %+v", len(replies), replies)
	}
	if !strings.Contains(replies[0].Text, "halted") || !strings.Contains(replies[1].Text, "promoted") {
		t.Errorf("replies = %q, %q", replies[0].Text, replies[1].Text)
	}
	md := replies[0].Metadata
	if md == nil || md.EventType != "fledge_notification" || md.EventPayload["notification_id"] != "n3" {
		t.Errorf("Halted reply metadata = %+v, want fledge_notification with notification_id n3", md)
	}
}

func TestBotRepliesOnlyForTurnsThatMatter(t *testing.T) {
	for kind, wantReply := range map[Kind]bool{
		Started: false, Advanced: false, Waiting: false, Promoting: false, RequestAccepted: false, Cancelled: false,
		Halted: true, Aborted: true, Promoted: true, RequestRejected: true,
	} {
		t.Run(string(kind), func(t *testing.T) {
			fake := fakeslack.New(t)
			bot := newBot(t, fake, BotConfig{})
			thread := send(t, bot, note(Started, "start"), nil)
			send(t, bot, note(kind, "turn"), thread)
			if got := len(fake.Replies(thread.TS)); got != map[bool]int{true: 1, false: 0}[wantReply] {
				t.Errorf("%s: %d replies", kind, got)
			}
		})
	}
}

func TestBotAbortedReplyCarriesReasonAndMetrics(t *testing.T) {
	fake := fakeslack.New(t)
	bot := newBot(t, fake, BotConfig{})
	thread := send(t, bot, note(Started, "n1"), nil)
	send(t, bot, note(Aborted, "n2"), thread)
	replies := fake.Replies(thread.TS)
	if len(replies) != 1 {
		t.Fatalf("%d replies", len(replies))
	}
	mustContain(t, "aborted reply", textsOfJSON(t, replies[0].Blocks),
		"*Aborted*", "latency-p99: 612 is above the maximum 500", "❌ *latency-p99* 612 (primary 480), max 500", "✅ *success-rate*")
}

// A crash between the send and recording it in the outbox makes the controller send the same
// notification again: the reply must not appear twice, while the message is updated again.
func TestBotReplyResentAfterCrashIsNotDuplicated(t *testing.T) {
	fake := fakeslack.New(t)
	bot := newBot(t, fake, BotConfig{})
	thread := send(t, bot, note(Started, "n1"), nil)

	halted := note(Halted, "n2")
	send(t, bot, halted, thread)
	send(t, bot, halted, thread) // the retry after the crash
	if got := len(fake.Replies(thread.TS)); got != 1 {
		t.Fatalf("%d replies after resending the same notification, want 1", got)
	}

	// A later halt is another notification: it gets its own reply.
	send(t, bot, note(Halted, "n3"), thread)
	if got := len(fake.Replies(thread.TS)); got != 2 {
		t.Errorf("%d replies after a second halt, want 2", got)
	}
}

// The reply was posted but its response was lost: the retry finds it and does not post again.
func TestBotReplyWithLostResponseIsNotDuplicated(t *testing.T) {
	fake := fakeslack.New(t)
	bot := newBot(t, fake, BotConfig{})
	thread := send(t, bot, note(Started, "n1"), nil)

	fake.FailNext("chat.postMessage", fakeslack.Fault{LostReply: true})
	got, err := Deliver(context.Background(), bot, note(Promoted, "n2"), thread, fastRetry)
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	if *got != *thread {
		t.Errorf("thread moved to %+v", got)
	}
	if n := len(fake.Replies(thread.TS)); n != 1 {
		t.Errorf("%d replies, want 1", n)
	}
}

// The rollout message was posted but the response was lost: the retry finds it in the
// channel's history (by the rollout ID in its metadata) and updates it instead of posting again.
func TestBotRolloutMessageWithLostResponseIsNotDuplicated(t *testing.T) {
	fake := fakeslack.New(t)
	bot := newBot(t, fake, BotConfig{})

	fake.FailNext("chat.postMessage", fakeslack.Fault{LostReply: true})
	thread, err := Deliver(context.Background(), bot, note(Started, "n1"), nil, fastRetry)
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	msgs := fake.TopLevel()
	if len(msgs) != 1 {
		t.Fatalf("%d top-level messages, want 1", len(msgs))
	}
	if thread == nil || thread.TS != msgs[0].TS {
		t.Errorf("thread = %+v, want the message %s", thread, msgs[0].TS)
	}

	// Another rollout of the same canary gets its own message.
	other := note(Started, "n9")
	other.RolloutID = "payments/api/r-2"
	if t2 := send(t, bot, other, nil); t2.TS == thread.TS {
		t.Errorf("a new rollout reused the message of the previous one")
	}
}

// Slack reads history by channel ID only: with a "#name" there is no lookup, and posting works.
func TestBotChannelByNameSkipsHistoryLookup(t *testing.T) {
	fake := fakeslack.New(t)
	bot := newBot(t, fake, BotConfig{Channel: "#deploys"})
	thread := send(t, bot, note(Started, "n1"), nil)
	if thread.Channel != "CDEPLOYS" {
		t.Errorf("thread channel = %q, want the ID Slack answered", thread.Channel)
	}
	send(t, bot, note(Halted, "n2"), thread)
	if n := fake.Calls("conversations.history"); n != 0 {
		t.Errorf("%d history calls with a channel name", n)
	}
	if n := len(fake.Replies(thread.TS)); n != 1 {
		t.Errorf("%d replies", n)
	}
}

// Someone deleted the rollout message: the next notification posts a new one.
func TestBotRepostsDeletedMessage(t *testing.T) {
	fake := fakeslack.New(t)
	bot := newBot(t, fake, BotConfig{})
	thread := send(t, bot, note(Started, "n1"), nil)
	fake.Delete(thread.TS)

	next := send(t, bot, note(Advanced, "n2"), thread)
	if next.TS == thread.TS {
		t.Fatalf("kept the deleted message %s", thread.TS)
	}
	msgs := fake.TopLevel()
	if len(msgs) != 1 || msgs[0].TS != next.TS {
		t.Errorf("top-level messages = %+v, want the new one %s", msgs, next.TS)
	}
}

func TestBotReadsLongThreadsPageByPage(t *testing.T) {
	fake := fakeslack.New(t)
	bot := newBot(t, fake, BotConfig{})
	thread := send(t, bot, note(Started, "n1"), nil)
	seedReplies(fake, *thread, 250)                     // more than a page of 200: r0 .. r249
	send(t, bot, note(RequestRejected, "r0"), thread)   // on the first page
	send(t, bot, note(RequestRejected, "r249"), thread) // on the second page
	if n := len(fake.Replies(thread.TS)); n != 250 {
		t.Errorf("%d replies, want 250", n)
	}
	send(t, bot, note(RequestRejected, "r250"), thread)
	if n := len(fake.Replies(thread.TS)); n != 251 {
		t.Errorf("%d replies after a new notification, want 251", n)
	}
}

func TestNewSlackBotChecksConfig(t *testing.T) {
	if _, err := NewSlackBot(BotConfig{Channel: fakeslack.Channel}); err == nil || !strings.Contains(err.Error(), "token") {
		t.Errorf("empty token: %v", err)
	}
	if _, err := NewSlackBot(BotConfig{Token: fakeslack.Token}); err == nil || !strings.Contains(err.Error(), "channel") {
		t.Errorf("empty channel: %v", err)
	}
}

func TestBotRejectsNotificationWithoutIDs(t *testing.T) {
	fake := fakeslack.New(t)
	bot := newBot(t, fake, BotConfig{})
	n := note(Started, "")
	if _, err := bot.Send(context.Background(), n, nil); !IsPermanent(err) {
		t.Errorf("Send without ID: %v, want a permanent error", err)
	}
	if len(fake.TopLevel()) != 0 {
		t.Error("posted a notification without ID")
	}
}
