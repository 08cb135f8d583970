package notifiers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

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

// Slack reads history by channel ID only: a "#name" that conversations.list does not show is
// posted to without reading the history first, and posting works.
func TestBotChannelByNameNotListedSkipsHistoryLookup(t *testing.T) {
	fake := fakeslack.New(t)
	bot := newBot(t, fake, BotConfig{Channel: "#deploys"})
	thread := send(t, bot, note(Started, "n1"), nil)
	if thread.Channel != "CDEPLOYS" {
		t.Errorf("thread channel = %q, want the ID Slack answered", thread.Channel)
	}
	send(t, bot, note(Halted, "n2"), thread)
	if n := fake.Calls("conversations.history"); n != 0 {
		t.Errorf("%d history calls with a channel name not listed", n)
	}
	if n := fake.Calls("conversations.list"); n != 1 {
		t.Errorf("%d list calls, want 1: the bot keeps what it learnt", n)
	}
	if n := len(fake.Replies(thread.TS)); n != 1 {
		t.Errorf("%d replies", n)
	}
}

// lostRolloutPost posts the rollout message of n through bot while its response is lost, and
// checks that Slack holds it.
func lostRolloutPost(t *testing.T, fake *fakeslack.Server, bot *SlackBot, n Notification) fakeslack.Message {
	t.Helper()
	fake.FailNext("chat.postMessage", fakeslack.Fault{LostReply: true})
	if _, err := bot.Send(context.Background(), n, nil); err == nil {
		t.Fatal("the post whose response was lost succeeded")
	}
	msgs := fake.TopLevel()
	if len(msgs) != 1 {
		t.Fatalf("%d top-level messages after the lost post, want 1", len(msgs))
	}
	return msgs[0]
}

// With a "#name", the bot finds the channel's ID in conversations.list, so a rollout message
// whose response was lost is found again by its metadata and updated, not posted twice.
func TestBotRolloutMessageWithLostResponseIsFoundByChannelName(t *testing.T) {
	fake := fakeslack.New(t)
	for i := range 5 {
		fake.AddChannel(fakeslack.ChannelInfo{Name: fmt.Sprintf("team-%d", i)})
	}
	deploys := fake.AddChannel(fakeslack.ChannelInfo{ID: "C0DEPLOYS1", Name: "deploys"})
	bot := newBot(t, fake, BotConfig{Channel: "#deploys"})

	fake.FailNext("chat.postMessage", fakeslack.Fault{LostReply: true})
	thread, err := Deliver(context.Background(), bot, note(Started, "n1"), nil, fastRetry)
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	msgs := fake.TopLevelIn(deploys.ID)
	if len(msgs) != 1 || len(fake.TopLevel()) != 1 {
		t.Fatalf("%d messages in #deploys, %d in all, want 1", len(msgs), len(fake.TopLevel()))
	}
	if thread == nil || *thread != (Thread{Channel: deploys.ID, TS: msgs[0].TS}) || msgs[0].Updates != 1 {
		t.Errorf("thread = %+v, message updated %d times; want %s %s, updated once", thread, msgs[0].Updates, deploys.ID, msgs[0].TS)
	}
	if n := fake.Calls("conversations.list"); n != 1 {
		t.Errorf("%d list calls, want 1 for the delivery", n)
	}

	// A bot of a later delivery, told the ID that was recorded, lists nothing.
	again := newBot(t, fake, BotConfig{Channel: "#deploys", KnownChannelID: thread.Channel})
	fake.FailNext("chat.postMessage", fakeslack.Fault{LostReply: true})
	other := note(Started, "n9")
	other.RolloutID = "payments/api/r-2"
	if _, err := Deliver(context.Background(), again, other, nil, fastRetry); err != nil {
		t.Fatalf("Deliver of the next rollout: %v", err)
	}
	if n := len(fake.TopLevelIn(deploys.ID)); n != 2 || fake.Calls("conversations.list") != 1 {
		t.Errorf("%d messages after the next rollout, %d list calls; want 2 and no new list", n, fake.Calls("conversations.list"))
	}
}

// The search for a lost rollout message reads the history page by page, from the rollout's
// start: busy channels bury it under more than a page of messages.
func TestBotFindsRolloutMessageOlderThanAPageOfHistory(t *testing.T) {
	for _, channel := range []string{fakeslack.Channel, "#busy"} {
		t.Run(channel, func(t *testing.T) {
			fake := fakeslack.New(t)
			bot := newBot(t, fake, BotConfig{Channel: channel})
			n := note(Started, "n1")
			n.Started = n.Time.Add(-3 * time.Hour) // a long rollout: its message is older than an hour
			lost := lostRolloutPost(t, fake, bot, n)
			for i := range 2*historyPageSize + 50 {
				fake.Seed(fakeslack.Message{Channel: lost.Channel, Text: fmt.Sprintf("chatter %d", i)})
			}

			next := newBot(t, fake, BotConfig{Channel: channel}) // the next delivery's
			thread := send(t, next, n, nil)
			if thread.TS != lost.TS || thread.Channel != lost.Channel {
				t.Errorf("thread = %+v, want the lost post %s %s", thread, lost.Channel, lost.TS)
			}
			if n := len(fake.TopLevel()); n != 2*historyPageSize+51 {
				t.Errorf("%d top-level messages: the rollout message was posted again", n)
			}
			if n := fake.Calls("conversations.history"); n < 3 {
				t.Errorf("%d history calls, want the 3 pages down to the message", n)
			}
		})
	}
}

// conversations.list is read page by page too.
func TestBotFindsChannelNameBeyondTheFirstPageOfChannels(t *testing.T) {
	fake := fakeslack.New(t)
	for i := range listPageSize + 10 {
		fake.AddChannel(fakeslack.ChannelInfo{ID: fmt.Sprintf("C%08d", i), Name: fmt.Sprintf("c%d", i)})
	}
	last := fake.AddChannel(fakeslack.ChannelInfo{ID: "GPRIVATE1", Name: "releases", Private: true})
	bot := newBot(t, fake, BotConfig{Channel: "#Releases"})
	lost := lostRolloutPost(t, fake, bot, note(Started, "n1"))
	if lost.Channel != last.ID {
		t.Fatalf("posted to %s, want %s", lost.Channel, last.ID)
	}
	if thread := send(t, bot, note(Started, "n1"), nil); thread.TS != lost.TS {
		t.Errorf("thread = %+v, want the lost post %s", thread, lost.TS)
	}
	if n := fake.Calls("conversations.list"); n != 2 {
		t.Errorf("%d list calls, want 2 pages, once", n)
	}
}

// Without channels:read the name cannot be resolved: the bot posts as it did before, without
// reading the history, and does not ask again within the delivery.
func TestBotPostsWithoutHistoryWhenTheListIsRefused(t *testing.T) {
	fake := fakeslack.New(t)
	fake.AddChannel(fakeslack.ChannelInfo{ID: "C0DEPLOYS1", Name: "deploys"})
	fake.FailNext("conversations.list", fakeslack.Fault{SlackError: "missing_scope"})
	bot := newBot(t, fake, BotConfig{Channel: "#deploys"})
	fake.FailNext("chat.postMessage", fakeslack.Fault{Status: 500})
	thread, err := Deliver(context.Background(), bot, note(Started, "n1"), nil, fastRetry)
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	if thread.Channel != "C0DEPLOYS1" || len(fake.TopLevel()) != 1 {
		t.Errorf("thread %+v, %d messages", thread, len(fake.TopLevel()))
	}
	if fake.Calls("conversations.list") != 1 || fake.Calls("conversations.history") != 0 {
		t.Errorf("%d list calls, %d history calls; want 1 and 0", fake.Calls("conversations.list"), fake.Calls("conversations.history"))
	}
}

// A list that fails in a way that may pass fails the attempt: Deliver tries again rather than
// risk a duplicate.
func TestBotRetriesAListThatMayPass(t *testing.T) {
	fake := fakeslack.New(t)
	fake.AddChannel(fakeslack.ChannelInfo{ID: "C0DEPLOYS1", Name: "deploys"})
	fake.FailNext("conversations.list", fakeslack.Fault{Status: 503}, fakeslack.Fault{SlackError: "ratelimited"})
	bot := newBot(t, fake, BotConfig{Channel: "#deploys"})
	if _, err := Deliver(context.Background(), bot, note(Started, "n1"), nil, fastRetry); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	if fake.Calls("conversations.list") != 3 || fake.Calls("conversations.history") != 1 || len(fake.TopLevel()) != 1 {
		t.Errorf("%d list calls, %d history calls, %d messages; want 3, 1, 1",
			fake.Calls("conversations.list"), fake.Calls("conversations.history"), len(fake.TopLevel()))
	}
}

func TestHistoryStartsBeforeTheRollout(t *testing.T) {
	at := time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)
	if got := historyOldest(Notification{Time: at, Started: at.Add(-5 * time.Hour)}); !got.Equal(at.Add(-5*time.Hour - historyMargin)) {
		t.Errorf("with a start: %s", got)
	}
	if got := historyOldest(Notification{Time: at}); !got.Equal(at.Add(-historyWindow)) {
		t.Errorf("without a start: %s", got)
	}
	if got := historyOldest(Notification{}); !got.IsZero() {
		t.Errorf("without times: %s", got)
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
