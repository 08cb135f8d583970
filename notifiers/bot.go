package notifiers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
)

// DefaultCallTimeout bounds one HTTP call to Slack when the configuration says nothing.
const DefaultCallTimeout = 10 * time.Second

// metadataEventType marks Fledge's messages in Slack message metadata.
const metadataEventType = "fledge_notification"

// Metadata payload keys and the roles a message plays.
const (
	metaNotificationID = "notification_id"
	metaRolloutID      = "rollout_id"
	metaKind           = "kind"
	metaRole           = "role"
	roleRollout        = "rollout"
	roleReply          = "reply"
)

// replyPages bounds how much of a thread is read to look for a reply: rollout threads hold a
// handful of replies, so this is only a guard against a thread people turned into a chat.
const replyPages = 10

// historyWindow is how far back, before a notification whose rollout start is unknown, the
// channel is read to find a rollout message whose post lost its response.
const historyWindow = time.Hour

// historyMargin is how far before a rollout's start the channel is read: the rollout message
// is posted after the start, so this covers only the skew between our clock and Slack's.
const historyMargin = 10 * time.Minute

// historyPages bounds how much of the channel is read, historyPageSize messages a page, to find
// a rollout message: a busy channel can hold thousands of messages since a long rollout began.
const (
	historyPages    = 25
	historyPageSize = 200
)

// listPages bounds how many pages of conversations.list (listPageSize channels each, Slack's
// maximum) are read to find the ID of a channel configured by name.
const (
	listPages    = 20
	listPageSize = 1000
)

// channelID recognises a Slack conversation ID, as opposed to a "#name".
var channelID = regexp.MustCompile(`^[CGD][A-Z0-9]{6,}$`)

// BotConfig configures a SlackBot.
type BotConfig struct {
	// Token is the bot token (xoxb-...). Scopes: chat:write, channels:history (groups:history
	// for a private channel); chat:write.customize to honour Username and IconEmoji; and, when
	// Channel is a "#name", channels:read (groups:read for a private channel) to find its ID.
	Token string
	// Channel is where rollout messages go, by ID (C...) or by name ("#deploys"); the bot must
	// be a member, since it reads its own threads to avoid duplicate replies.
	//
	// Slack reads a channel's history by ID only. With a name, the bot looks the ID up with
	// conversations.list (public and private channels, archived ones left out) the first time it
	// needs to read the history, and keeps it. When the name cannot be resolved (the token lacks
	// channels:read or groups:read, the channel is not listed, or Slack refuses the list), the
	// bot posts without reading the history first: a rollout message whose post lost its
	// response may then be posted twice. Replies are never duplicated, whatever the channel.
	Channel string
	// KnownChannelID is the ID Channel stood for when a message was last posted there (the
	// channel of a recorded Thread): with it, a "#name" needs no lookup. It is ignored when
	// Channel is an ID. A stale one (the channel was changed since) only points the search for
	// a lost post at the old channel.
	KnownChannelID string
	Username       string
	IconEmoji      string
	// APIURL is the Slack Web API base URL; empty means Slack's.
	APIURL string
	// CallTimeout bounds each HTTP call; zero means DefaultCallTimeout.
	CallTimeout time.Duration
	// StillAllowed, when set, is asked right after each post. A post that went out when this
	// process may no longer speak (a leader frozen past its lease between the check before the
	// post and the post itself, while another took over) is taken back with chat.delete, and
	// the send fails with StillAllowed's error: the leader that took over keeps the only one.
	StillAllowed func(context.Context) error
}

// SlackBot keeps one Slack message per rollout, updated in place, with thread replies for the
// turns that matter. It keeps no state between calls but the ID of its channel, and is safe for
// concurrent use.
type SlackBot struct {
	client  *slack.Client
	cfg     BotConfig
	timeout time.Duration

	mu sync.Mutex
	// channelID is the ID of cfg.Channel once known; unresolvable says the lookup is over and
	// found none, so that the history is not read.
	channelID    string
	unresolvable bool
}

// NewSlackBot checks cfg and returns a SlackBot. It makes no call to Slack.
func NewSlackBot(cfg BotConfig) (*SlackBot, error) {
	if strings.TrimSpace(cfg.Token) == "" {
		return nil, errors.New("slack bot: the token is empty: set the bot token (xoxb-...) of the Fledge Slack app")
	}
	if strings.TrimSpace(cfg.Channel) == "" {
		return nil, errors.New("slack bot: the channel is empty: set the ID (C...) of the channel to post to")
	}
	timeout := cfg.CallTimeout
	if timeout <= 0 {
		timeout = DefaultCallTimeout
	}
	// Retries are Deliver's job, so the client makes one attempt per call; the HTTP timeout
	// backs up the per-call context in case a caller's context has no deadline.
	opts := []slack.Option{slack.OptionHTTPClient(&http.Client{Timeout: timeout})}
	if cfg.APIURL != "" {
		opts = append(opts, slack.OptionAPIURL(strings.TrimSuffix(cfg.APIURL, "/")+"/"))
	}
	b := &SlackBot{client: slack.New(cfg.Token, opts...), cfg: cfg, timeout: timeout}
	switch {
	case channelID.MatchString(cfg.Channel):
		b.channelID = cfg.Channel
	case channelID.MatchString(cfg.KnownChannelID):
		b.channelID = cfg.KnownChannelID
	}
	return b, nil
}

// Send posts the rollout's message at its first notification (thread nil) and updates it in
// place afterwards; for Halted, Aborted, Promoted and RequestRejected it also replies in the
// thread. Replies are sent exactly once per notification ID: the thread is read first and a
// reply that carries the ID in its metadata is not sent again. When thread is nil, the
// channel's history since the rollout started is read first too, so a rollout message whose
// post succeeded but whose response was lost is updated, not posted twice (with a "#name",
// only when its ID can be found: see BotConfig.Channel).
//
// The returned Thread is where the rollout's message lives, also when an error is returned.
func (b *SlackBot) Send(ctx context.Context, n Notification, thread *Thread) (*Thread, error) {
	if err := checkNotification(n); err != nil {
		return thread, err
	}
	t, err := b.upsertRolloutMessage(ctx, n, thread)
	if err != nil {
		return t, err
	}
	if hasReply(n.Kind) {
		if err := b.replyOnce(ctx, n, *t); err != nil {
			return t, err
		}
	}
	return t, nil
}

// hasReply: the turns worth a line in the thread, so that people following it get notified.
func hasReply(k Kind) bool {
	switch k {
	case Halted, Aborted, Promoted, RequestRejected:
		return true
	}
	return false
}

func checkNotification(n Notification) error {
	if n.ID == "" || n.RolloutID == "" {
		return &PermanentError{Code: "invalid_notification", Fix: "the notification has no ID or no rollout ID: this is a bug in Fledge"}
	}
	return nil
}

// upsertRolloutMessage updates the rollout's message, or posts it when there is none yet.
func (b *SlackBot) upsertRolloutMessage(ctx context.Context, n Notification, thread *Thread) (*Thread, error) {
	msg := rolloutMessage(n)
	if thread != nil && thread.TS != "" {
		err := b.update(ctx, *thread, n, msg)
		if !messageGone(err) {
			return thread, err
		}
		// Someone deleted the message (or it is not ours to edit): the rollout gets a new one.
	}
	found, err := b.findRolloutMessage(ctx, n)
	if err != nil {
		return thread, err
	}
	if found != nil {
		err := b.update(ctx, *found, n, msg)
		if !messageGone(err) {
			return found, err
		}
		// Found but not ours to edit (another Slack app posted it): post our own.
	}
	posted, err := b.post(ctx, n, msg)
	if err != nil {
		return thread, err
	}
	return posted, nil
}

func messageGone(err error) bool {
	var resp slack.SlackErrorResponse
	return errors.As(err, &resp) && (resp.Err == "message_not_found" || resp.Err == "cant_update_message")
}

func (b *SlackBot) post(ctx context.Context, n Notification, msg message) (*Thread, error) {
	var channel, ts string
	err := b.call(ctx, func(ctx context.Context) (err error) {
		channel, ts, err = b.client.PostMessageContext(ctx, b.cfg.Channel, b.postOptions(n, msg, roleRollout)...)
		return err
	})
	if err != nil {
		return nil, b.fail("post the rollout message to "+b.cfg.Channel, err)
	}
	b.learnChannelID(channel)
	if err := b.takeBackIfStale(ctx, channel, ts); err != nil {
		return nil, err
	}
	return &Thread{Channel: channel, TS: ts}, nil
}

// takeBackIfStale deletes the message just posted when StillAllowed says this process may no
// longer speak, and returns why.
func (b *SlackBot) takeBackIfStale(ctx context.Context, channel, ts string) error {
	if b.cfg.StillAllowed == nil {
		return nil
	}
	stale := b.cfg.StillAllowed(ctx)
	if stale == nil {
		return nil
	}
	err := b.call(ctx, func(ctx context.Context) error {
		_, _, err := b.client.DeleteMessageContext(ctx, channel, ts)
		return err
	})
	if err != nil {
		return fmt.Errorf("posted after this process lost the right to speak (%w), and could not take it back: %v", stale, b.fail("delete the message", err))
	}
	return fmt.Errorf("posted after this process lost the right to speak, taken back: %w", stale)
}

// update rewrites the rollout message in place.
func (b *SlackBot) update(ctx context.Context, t Thread, n Notification, msg message) error {
	err := b.call(ctx, func(ctx context.Context) error {
		_, _, _, err := b.client.UpdateMessageContext(ctx, t.Channel, t.TS, b.messageOptions(n, msg, roleRollout)...)
		return err
	})
	if err != nil {
		return b.fail("update the rollout message in "+t.Channel, err)
	}
	return nil
}

// findRolloutMessage looks in the channel's history, since the rollout started, for the message
// of n's rollout, which a previous attempt may have posted without getting the response. It
// reads newest first, page by page, and gives up quietly after historyPages pages or when the
// channel's ID cannot be found (see BotConfig.Channel).
func (b *SlackBot) findRolloutMessage(ctx context.Context, n Notification) (*Thread, error) {
	channel, err := b.historyChannel(ctx)
	if err != nil || channel == "" {
		return nil, err
	}
	params := &slack.GetConversationHistoryParameters{
		ChannelID:          channel,
		Limit:              historyPageSize,
		IncludeAllMetadata: true,
	}
	if oldest := historyOldest(n); !oldest.IsZero() {
		params.Oldest = fmt.Sprintf("%d.000000", oldest.Unix())
	}
	for range historyPages {
		var history *slack.GetConversationHistoryResponse
		err := b.call(ctx, func(ctx context.Context) (err error) {
			history, err = b.client.GetConversationHistoryContext(ctx, params)
			return err
		})
		if err != nil {
			return nil, b.fail("read the history of "+channel, err)
		}
		for _, m := range history.Messages {
			topLevel := m.ThreadTimestamp == "" || m.ThreadTimestamp == m.Timestamp
			if topLevel && isFledge(m, roleRollout, metaRolloutID, n.RolloutID) {
				return &Thread{Channel: channel, TS: m.Timestamp}, nil
			}
		}
		next := history.ResponseMetaData.NextCursor
		if !history.HasMore || next == "" {
			return nil, nil
		}
		params.Cursor = next
	}
	return nil, nil
}

// historyOldest is where the search for a rollout message starts: a little before the rollout
// started, or historyWindow before the notification when the start is unknown (zero: all).
func historyOldest(n Notification) time.Time {
	switch {
	case !n.Started.IsZero():
		return n.Started.Add(-historyMargin)
	case !n.Time.IsZero():
		return n.Time.Add(-historyWindow)
	}
	return time.Time{}
}

// historyChannel is the ID of the channel, to read its history: Channel itself, the ID known or
// learnt before, or the one conversations.list gives for the name. It is "" when the name
// cannot be resolved; then the history is not read. An error is returned only for failures
// that may pass (a rate limit, a timeout, Slack down): the caller retries them.
func (b *SlackBot) historyChannel(ctx context.Context) (string, error) {
	b.mu.Lock()
	id, done := b.channelID, b.unresolvable
	b.mu.Unlock()
	if id != "" || done {
		return id, nil
	}
	id, err := b.lookUpChannel(ctx)
	if err != nil {
		if !lookupRefused(err) {
			return "", b.fail("find the ID of channel "+b.cfg.Channel, err)
		}
		id = "" // Slack said no for good (a missing scope, say): post without the lookup
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.channelID == "" {
		b.channelID, b.unresolvable = id, id == ""
	}
	return b.channelID, nil
}

// lookUpChannel pages through conversations.list for the channel named cfg.Channel.
func (b *SlackBot) lookUpChannel(ctx context.Context) (string, error) {
	name := strings.TrimPrefix(strings.TrimSpace(b.cfg.Channel), "#")
	params := &slack.GetConversationsParameters{
		Types:           []string{"public_channel", "private_channel"},
		ExcludeArchived: true,
		Limit:           listPageSize,
	}
	for range listPages {
		var channels []slack.Channel
		var next string
		err := b.call(ctx, func(ctx context.Context) (err error) {
			channels, next, err = b.client.GetConversationsContext(ctx, params)
			return err
		})
		if err != nil {
			return "", err
		}
		for _, c := range channels {
			if strings.EqualFold(c.Name, name) {
				return c.ID, nil
			}
		}
		if next == "" {
			return "", nil
		}
		params.Cursor = next
	}
	return "", nil
}

// lookupRefused: Slack answered the lookup, and would answer the same again (missing_scope,
// invalid_auth...), as opposed to a failure that may pass.
func lookupRefused(err error) bool {
	var resp slack.SlackErrorResponse
	if errors.As(err, &resp) {
		switch resp.Err {
		case "internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited":
			return false
		}
		return true
	}
	return IsPermanent(classifyBotError(err, ""))
}

// learnChannelID keeps the ID Slack answered a post with, which is authoritative (a
// KnownChannelID may be stale): the history needs no lookup then.
func (b *SlackBot) learnChannelID(id string) {
	if !channelID.MatchString(id) {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.channelID, b.unresolvable = id, false
}

// replyOnce posts n's reply in the thread unless a reply with n's ID is already there.
func (b *SlackBot) replyOnce(ctx context.Context, n Notification, t Thread) error {
	done, err := b.replied(ctx, t, n.ID)
	if err != nil || done {
		return err
	}
	msg := replyMessage(n)
	opts := append(b.postOptions(n, msg, roleReply), slack.MsgOptionTS(t.TS))
	var ts string
	err = b.call(ctx, func(ctx context.Context) (err error) {
		_, ts, err = b.client.PostMessageContext(ctx, t.Channel, opts...)
		return err
	})
	if err != nil {
		return b.fail("reply in the rollout thread in "+t.Channel, err)
	}
	return b.takeBackIfStale(ctx, t.Channel, ts)
}

// replied reports whether the thread holds a reply carrying the notification ID.
func (b *SlackBot) replied(ctx context.Context, t Thread, notificationID string) (bool, error) {
	params := &slack.GetConversationRepliesParameters{
		ChannelID:          t.Channel,
		Timestamp:          t.TS,
		Limit:              200,
		IncludeAllMetadata: true,
	}
	for range replyPages {
		var msgs []slack.Message
		var more bool
		var cursor string
		err := b.call(ctx, func(ctx context.Context) (err error) {
			msgs, more, cursor, err = b.client.GetConversationRepliesContext(ctx, params)
			return err
		})
		if err != nil {
			return false, b.fail("read the rollout thread in "+t.Channel, err)
		}
		for _, m := range msgs {
			if isFledge(m, roleReply, metaNotificationID, notificationID) {
				return true, nil
			}
		}
		if !more || cursor == "" {
			return false, nil
		}
		params.Cursor = cursor
	}
	return false, nil
}

// isFledge reports whether m is a Fledge message of the given role whose metadata has key=value.
func isFledge(m slack.Message, role, key, value string) bool {
	meta := m.Metadata
	return meta.EventType == metadataEventType &&
		fmt.Sprint(meta.EventPayload[metaRole]) == role &&
		fmt.Sprint(meta.EventPayload[key]) == value
}

// messageOptions are the content of a message, for a post or an update: the text, the blocks,
// and the metadata that lets a later attempt recognise the message.
func (b *SlackBot) messageOptions(n Notification, msg message, role string) []slack.MsgOption {
	return []slack.MsgOption{
		slack.MsgOptionText(msg.Text, false),
		slack.MsgOptionBlocks(msg.Blocks...),
		slack.MsgOptionMetadata(slack.SlackMetadata{
			EventType: metadataEventType,
			EventPayload: map[string]any{
				metaNotificationID: n.ID,
				metaRolloutID:      n.RolloutID,
				metaKind:           string(n.Kind),
				metaRole:           role,
			},
		}),
	}
}

// postOptions add what only chat.postMessage takes: who the message appears from.
func (b *SlackBot) postOptions(n Notification, msg message, role string) []slack.MsgOption {
	opts := append(b.messageOptions(n, msg, role), slack.MsgOptionDisableLinkUnfurl())
	if b.cfg.Username != "" {
		opts = append(opts, slack.MsgOptionUsername(b.cfg.Username))
	}
	if b.cfg.IconEmoji != "" {
		opts = append(opts, slack.MsgOptionIconEmoji(b.cfg.IconEmoji))
	}
	return opts
}

// call runs one Slack API call under the per-call timeout.
func (b *SlackBot) call(ctx context.Context, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	return f(ctx)
}

// fail wraps err with what was being done, classifies it and makes sure the token is not in it.
func (b *SlackBot) fail(doing string, err error) error {
	err = fmt.Errorf("slack bot: %s: %w", doing, classifyBotError(err, b.cfg.Channel))
	return redact(err, secret{b.cfg.Token, "<redacted token>"})
}
