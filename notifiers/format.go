package notifiers

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// progressBar draws a weight as ten cells and a percentage, e.g. "▓▓▓▓░░░░░░ 40%".
func progressBar(weight int32) string {
	w := min(max(weight, 0), 100)
	full := int(w / 10)
	return strings.Repeat("▓", full) + strings.Repeat("░", 10-full) + fmt.Sprintf(" %d%%", w)
}

// what says in a few words what happened, with an emoji that survives a glance at a phone.
func what(n Notification) (emoji, words string) {
	switch n.Kind {
	case Started:
		return "🚀", "rollout started"
	case Restarted:
		return "🔁", "rollout restarted"
	case Cancelled:
		return "↩️", "rollout cancelled"
	case Advanced:
		return "⏩", fmt.Sprintf("advanced to %d%%", n.Weight)
	case Waiting:
		return "⏳", "waiting"
	case Halted:
		return "⚠️", fmt.Sprintf("halted at %d%%", n.Weight)
	case Promoting:
		return "🚢", "promoting"
	case Promoted:
		return "✅", "promoted"
	case Aborted:
		return "🛑", "aborted"
	case RequestAccepted:
		return "👍", "request accepted"
	case RequestRejected:
		return "🚫", "request rejected"
	}
	return "ℹ️", string(n.Kind)
}

// canaryRef is namespace/name, the way people type it.
func canaryRef(n Notification) string {
	if n.Namespace == "" {
		return n.Canary
	}
	return n.Namespace + "/" + n.Canary
}

// inProgress reports whether a person can still promote or abort the rollout.
func inProgress(n Notification) bool {
	switch n.Kind {
	case Promoting, Promoted, Aborted, Cancelled:
		return false
	}
	return n.Phase == "" || n.Phase == PhaseProgressing
}

// commands are the kubectl lines that act on a rollout in progress.
func commands(n Notification) []string {
	target := n.Canary
	if n.Namespace != "" {
		target += " -n " + n.Namespace
	}
	return []string{"kubectl fledge promote " + target, "kubectl fledge abort " + target}
}

func verdictIcon(verdict string) string {
	switch verdict {
	case VerdictPass:
		return "✅"
	case VerdictFail:
		return "❌"
	}
	return "⏳"
}

// metricLine is one check in a compact form: "❌ success-rate 91.2 (primary 99.5), min 99".
// It is mrkdwn: the name is escaped, numbers need not be.
func metricLine(m Metric) string {
	var b strings.Builder
	b.WriteString(verdictIcon(m.Verdict) + " *" + escapeMrkdwn(m.Name) + "* ")
	if m.Value == nil {
		b.WriteString("no data")
	} else {
		b.WriteString(number(*m.Value))
	}
	if m.Primary != nil {
		b.WriteString(" (primary " + number(*m.Primary) + ")")
	}
	switch {
	case m.Min != nil && m.Max != nil:
		b.WriteString(", range " + number(*m.Min) + "–" + number(*m.Max))
	case m.Min != nil:
		b.WriteString(", min " + number(*m.Min))
	case m.Max != nil:
		b.WriteString(", max " + number(*m.Max))
	}
	return b.String()
}

// number prints a measurement with at most three decimals and no exponent for usual values.
func number(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}

// escapeMrkdwn escapes the three characters Slack reserves for links and mentions, so that a
// message cannot ping @channel or forge a link.
func escapeMrkdwn(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// truncate cuts s to at most limit runes, marking the cut; Slack rejects longer texts.
func truncate(s string, limit int) string {
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	r := []rune(s)
	return string(r[:limit-1]) + "…"
}
