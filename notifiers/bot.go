package notifiers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
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

// historyWindow is how far back, before a rollout's first notification, the channel is read to
// find a rollout message whose post lost its response. It covers clock skew, not long outages.
const historyWindow = time.Hour

// channelID recognises a Slack conversation ID, as opposed to a "#name".
var channelID = regexp.MustCompile(`^[CGD][A-Z0-9]{6,}$`)

// BotConfig configures a SlackBot.
type BotConfig struct {
	// Token is the bot token (xoxb-...). Scopes: chat:write, channels:history (groups:history
	// for a private channel); chat:write.customize to honour Username and IconEmoji.
	Token string
	// Channel is where rollout messages go; the bot must be a member, since it reads its own
	// threads to avoid duplicate replies. Prefer the channel ID (C...): with a "#name", a
	// rollout message whose post lost its response cannot be found again (see Send).
	Channel   string
	Username  string
	IconEmoji string
	// APIURL is the Slack Web API base URL; empty means Slack's.
	APIURL string
	// CallTimeout bounds each HTTP call; zero means DefaultCallTimeout.
	CallTimeout time.Duration
}

// SlackBot keeps one Slack message per rollout, updated in place, with thread replies for the
// turns that matter. It keeps no state between calls and is safe for concurrent use.
type SlackBot struct {
	client  *slack.Client
	cfg     BotConfig
	timeout time.Duration
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
	return &SlackBot{client: slack.New(cfg.Token, opts...), cfg: cfg, timeout: timeout}, nil
}

// Send posts the rollout's message at its first notification (thread nil) and updates it in
// place afterwards; for Halted, Aborted, Promoted and RequestRejected it also replies in the
// thread. Replies are sent exactly once per notification ID: the thread is read first and a
// reply that carries the ID in its metadata is not sent again. When thread is nil and the
// channel is configured by ID, the channel's recent history is read first too, so a rollout
// message whose post succeeded but whose response was lost is updated, not posted twice.
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
	return &Thread{Channel: channel, TS: ts}, nil
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

// findRolloutMessage looks in the channel's recent history for the message of n's rollout,
// which a previous attempt may have posted without getting the response. Slack only reads
// history by channel ID, so with a "#name" there is no lookup.
func (b *SlackBot) findRolloutMessage(ctx context.Context, n Notification) (*Thread, error) {
	if !channelID.MatchString(b.cfg.Channel) {
		return nil, nil
	}
	params := &slack.GetConversationHistoryParameters{
		ChannelID:          b.cfg.Channel,
		Limit:              200,
		IncludeAllMetadata: true,
	}
	if !n.Time.IsZero() {
		params.Oldest = fmt.Sprintf("%d.000000", n.Time.Add(-historyWindow).Unix())
	}
	var history *slack.GetConversationHistoryResponse
	err := b.call(ctx, func(ctx context.Context) (err error) {
		history, err = b.client.GetConversationHistoryContext(ctx, params)
		return err
	})
	if err != nil {
		return nil, b.fail("read the history of "+b.cfg.Channel, err)
	}
	for _, m := range history.Messages {
		topLevel := m.ThreadTimestamp == "" || m.ThreadTimestamp == m.Timestamp
		if topLevel && isFledge(m, roleRollout, metaRolloutID, n.RolloutID) {
			return &Thread{Channel: b.cfg.Channel, TS: m.Timestamp}, nil
		}
	}
	return nil, nil
}

// replyOnce posts n's reply in the thread unless a reply with n's ID is already there.
func (b *SlackBot) replyOnce(ctx context.Context, n Notification, t Thread) error {
	done, err := b.replied(ctx, t, n.ID)
	if err != nil || done {
		return err
	}
	msg := replyMessage(n)
	opts := append(b.postOptions(n, msg, roleReply), slack.MsgOptionTS(t.TS))
	err = b.call(ctx, func(ctx context.Context) error {
		_, _, err := b.client.PostMessageContext(ctx, t.Channel, opts...)
		return err
	})
	if err != nil {
		return b.fail("reply in the rollout thread in "+t.Channel, err)
	}
	return nil
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
