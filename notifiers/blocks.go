package notifiers

import (
	"fmt"
	"strings"

	"github.com/slack-go/slack"
	"k8s.io/apimachinery/pkg/util/duration"
)

// Slack's limits on block texts.
const (
	headerLimit  = 150
	sectionLimit = 3000
	fieldLimit   = 2000
)

// message is what Slack shows: Block Kit blocks and the plain-text fallback that notifications
// on phones and screen readers use.
type message struct {
	Text   string
	Blocks []slack.Block
}

// rolloutMessage is the full picture of a rollout after n: the bot's message that is updated
// in place, and each webhook message.
func rolloutMessage(n Notification) message {
	emoji, words := what(n)
	blocks := []slack.Block{
		slack.NewHeaderBlock(plain(truncate(fmt.Sprintf("%s %s: %s", emoji, canaryRef(n), words), headerLimit))),
		contextBlock(n),
		statusSection(n),
	}
	if len(n.Metrics) > 0 {
		blocks = append(blocks, metricsSection(n.Metrics))
	}
	if inProgress(n) && n.Canary != "" {
		blocks = append(blocks, commandsSection(n))
	}
	return message{Text: fallbackText(n), Blocks: blocks}
}

// replyMessage is the thread reply for a turn that matters: it says what happened and, for
// halts and failures, why.
func replyMessage(n Notification) message {
	emoji, words := what(n)
	line := fmt.Sprintf("%s *%s*", emoji, capitalize(words))
	switch n.Kind {
	case Halted:
		line += fmt.Sprintf(" (failed checks %d of %d)", n.FailedChecks, n.Threshold)
	case Aborted:
		line += ": all traffic is back on the primary"
	case Promoted:
		if n.Revision != "" {
			line += fmt.Sprintf(": revision `%s` serves all traffic", escapeMrkdwn(n.Revision))
		}
	}
	if n.Message != "" {
		line += "\n" + escapeMrkdwn(n.Message)
	}
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn(truncate(line, sectionLimit)), nil, nil)}
	if len(n.Metrics) > 0 && (n.Kind == Halted || n.Kind == Aborted) {
		blocks = append(blocks, metricsSection(n.Metrics))
	}
	return message{Text: fallbackText(n), Blocks: blocks}
}

// fallbackText is the message in one line of plain text.
func fallbackText(n Notification) string {
	emoji, words := what(n)
	text := fmt.Sprintf("%s %s: %s", emoji, canaryRef(n), words)
	if n.Message != "" {
		text += ": " + n.Message
	}
	var where []string
	if n.Cluster != "" {
		where = append(where, "cluster "+n.Cluster)
	}
	if n.Revision != "" {
		where = append(where, "revision "+n.Revision)
	}
	if len(where) > 0 {
		text += " (" + strings.Join(where, ", ") + ")"
	}
	return escapeMrkdwn(truncate(text, sectionLimit))
}

func contextBlock(n Notification) *slack.ContextBlock {
	var elements []slack.MixedElement
	add := func(label, value string) {
		if value != "" {
			elements = append(elements, mrkdwn(fmt.Sprintf("*%s:* %s", label, escapeMrkdwn(value))))
		}
	}
	add("Cluster", n.Cluster)
	add("Namespace", n.Namespace)
	add("Canary", n.Canary)
	if n.Revision != "" {
		add("Revision", "`"+n.Revision+"`")
	}
	add("Phase", n.Phase)
	if ended(n.Kind) && !n.Started.IsZero() && !n.Time.Before(n.Started) {
		add("Took", duration.HumanDuration(n.Time.Sub(n.Started)))
	}
	if !n.Time.IsZero() {
		// Slack renders the date in each reader's time zone; the text after | is for old clients.
		elements = append(elements, mrkdwn(fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>",
			n.Time.Unix(), n.Time.UTC().Format("2006-01-02 15:04 UTC"))))
	}
	if len(elements) == 0 {
		elements = append(elements, mrkdwn(string(n.Kind)))
	}
	return slack.NewContextBlock("", elements...)
}

// statusSection shows the sentence for people and where the rollout stands.
func statusSection(n Notification) *slack.SectionBlock {
	fields := []*slack.TextBlockObject{
		mrkdwn("*Canary traffic*\n`" + progressBar(n.Weight) + "`"),
	}
	if n.Steps > 0 {
		fields = append(fields, mrkdwn(fmt.Sprintf("*Step*\n%d of %d", n.Step, n.Steps)))
	}
	if n.Threshold > 0 {
		fields = append(fields, mrkdwn(fmt.Sprintf("*Failed checks*\n%d of %d", n.FailedChecks, n.Threshold)))
	} else if n.FailedChecks > 0 {
		fields = append(fields, mrkdwn(fmt.Sprintf("*Failed checks*\n%d", n.FailedChecks)))
	}
	var text *slack.TextBlockObject
	if n.Message != "" {
		text = mrkdwn(truncate(escapeMrkdwn(n.Message), sectionLimit))
	}
	return slack.NewSectionBlock(text, fields, nil)
}

// metricsSection lists the checks, one per line, cut to what a section can hold.
func metricsSection(metrics []Metric) *slack.SectionBlock {
	text := "*Checks*"
	for i, m := range metrics {
		line := "\n" + metricLine(m)
		more := fmt.Sprintf("\n… and %d more", len(metrics)-i)
		if len(text)+len(line)+len(more) > sectionLimit {
			text += more
			break
		}
		text += line
	}
	return slack.NewSectionBlock(mrkdwn(text), nil, nil)
}

func commandsSection(n Notification) *slack.SectionBlock {
	text := "*Act on it*"
	for _, c := range commands(n) {
		text += "\n`" + escapeMrkdwn(c) + "`"
	}
	return slack.NewSectionBlock(mrkdwn(truncate(text, fieldLimit)), nil, nil)
}

func mrkdwn(text string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, text, false, false)
}

func plain(text string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, text, true, false)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// ended is whether a transition ends the rollout.
func ended(k Kind) bool { return k == Promoted || k == Aborted || k == Cancelled }
