package notifiers

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

func TestProgressBar(t *testing.T) {
	for weight, want := range map[int32]string{
		0:   "░░░░░░░░░░ 0%",
		5:   "░░░░░░░░░░ 5%",
		40:  "▓▓▓▓░░░░░░ 40%",
		100: "▓▓▓▓▓▓▓▓▓▓ 100%",
		-3:  "░░░░░░░░░░ 0%",
		250: "▓▓▓▓▓▓▓▓▓▓ 100%",
	} {
		if got := progressBar(weight); got != want {
			t.Errorf("progressBar(%d) = %q, want %q", weight, got, want)
		}
	}
}

func TestRolloutMessageStarted(t *testing.T) {
	msg := rolloutMessage(note(Started, "n1"))
	texts := blockTexts(t, msg.Blocks)

	if texts[0] != "🚀 payments/api: rollout started" {
		t.Errorf("header = %q", texts[0])
	}
	mustContain(t, "context", texts, "*Cluster:* prod-eu", "*Namespace:* payments", "*Canary:* api",
		"*Revision:* `"+testRevision+"`", "*Phase:* Progressing")
	mustContain(t, "status", texts, "new revision "+testRevision+" is ready", "░░░░░░░░░░ 0%", "*Step*\n0 of 5", "*Failed checks*\n0 of 5")
	mustContain(t, "commands", texts, "`kubectl fledge promote api -n payments`", "`kubectl fledge abort api -n payments`")
	mustNotContain(t, "no metrics yet", texts, "*Checks*")
	if !strings.Contains(msg.Text, "payments/api: rollout started") || !strings.Contains(msg.Text, "cluster prod-eu") {
		t.Errorf("fallback text = %q", msg.Text)
	}
}

func TestRolloutMessageHalted(t *testing.T) {
	msg := rolloutMessage(note(Halted, "n2"))
	texts := blockTexts(t, msg.Blocks)

	if texts[0] != "⚠️ payments/api: halted at 40%" {
		t.Errorf("header = %q", texts[0])
	}
	mustContain(t, "status", texts, "▓▓▓▓░░░░░░ 40%", "*Step*\n2 of 5", "*Failed checks*\n2 of 5",
		"check failed (2 of 5) at canary weight 40%")
	mustContain(t, "metrics", texts,
		"✅ *success-rate* 99.41, min 99",
		"❌ *latency-p99* 612 (primary 480), max 500",
		"⏳ *error-budget* no data")
	mustContain(t, "commands while in progress", texts, "kubectl fledge promote api -n payments")
}

func TestRolloutMessageFinishedHasNoCommands(t *testing.T) {
	for _, kind := range []Kind{Promoting, Promoted, Aborted, Cancelled} {
		texts := blockTexts(t, rolloutMessage(note(kind, "n")).Blocks)
		mustNotContain(t, string(kind), texts, "kubectl fledge")
	}
	texts := blockTexts(t, rolloutMessage(note(Aborted, "n")).Blocks)
	if texts[0] != "🛑 payments/api: aborted" {
		t.Errorf("aborted header = %q", texts[0])
	}
	mustContain(t, "aborted", texts, "*Phase:* Failed", "*Failed checks*\n5 of 5", "❌ *latency-p99*")
}

func TestMetricRanges(t *testing.T) {
	m := Metric{Name: "cpu", Value: ptr(0.12345), Min: ptr(0), Max: ptr(0.8), Verdict: VerdictPass}
	if got, want := metricLine(m), "✅ *cpu* 0.123, range 0–0.8"; got != want {
		t.Errorf("metricLine = %q, want %q", got, want)
	}
}

func TestMessagesEscapeMentionsAndLinks(t *testing.T) {
	n := note(Halted, "n")
	n.Message = "<!channel> look at <http://evil|this> & that"
	n.Metrics[0].Name = "<@U123>"
	msg := rolloutMessage(n)
	texts := append(blockTexts(t, msg.Blocks), msg.Text)
	mustNotContain(t, "escaped", texts, "<!channel>", "<http://evil", "<@U123>")
	mustContain(t, "escaped", texts, "&lt;!channel&gt; look at &lt;http://evil|this&gt; &amp; that", "&lt;@U123&gt;")
}

func TestManyMetricsStayWithinSlackLimits(t *testing.T) {
	n := note(Halted, "n")
	n.Message = strings.Repeat("long ", 1000)
	n.Metrics = nil
	for i := range 200 {
		n.Metrics = append(n.Metrics, Metric{Name: fmt.Sprintf("metric-with-a-long-name-%03d", i), Value: ptr(1), Verdict: VerdictPass})
	}
	msg := rolloutMessage(n)
	texts := blockTexts(t, msg.Blocks)
	for _, s := range texts {
		if n := len([]rune(s)); n > sectionLimit {
			t.Errorf("a text of %d characters exceeds Slack's %d", n, sectionLimit)
		}
	}
	mustContain(t, "cut", texts, "more")
	if len([]rune(msg.Text)) > sectionLimit {
		t.Errorf("fallback text of %d characters", len([]rune(msg.Text)))
	}
}

func TestReplyMessages(t *testing.T) {
	cases := map[Kind][]string{
		Halted:          {"⚠️ *Halted at 40%* (failed checks 2 of 5)", "latency-p99: 612 is above the maximum 500", "❌ *latency-p99* 612"},
		Aborted:         {"🛑 *Aborted*: all traffic is back on the primary", "check failed (5 of 5)", "❌ *latency-p99* 612"},
		Promoted:        {"✅ *Promoted*: revision `" + testRevision + "` serves all traffic"},
		RequestRejected: {"🚫 *Request rejected*"},
	}
	for kind, wants := range cases {
		msg := replyMessage(note(kind, "n"))
		texts := blockTexts(t, msg.Blocks)
		mustContain(t, string(kind), texts, wants...)
		if msg.Text == "" {
			t.Errorf("%s reply has no fallback text", kind)
		}
	}
	texts := blockTexts(t, replyMessage(note(Promoted, "n")).Blocks)
	mustNotContain(t, "promoted reply", texts, "*Checks*")
}

// The blocks must survive Slack's JSON round trip: slack-go decodes what it sends.
func TestBlocksRoundTrip(t *testing.T) {
	raw, err := json.Marshal(slack.Blocks{BlockSet: rolloutMessage(note(Halted, "n")).Blocks})
	if err != nil {
		t.Fatal(err)
	}
	var back slack.Blocks
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	got := blockTypes(t, string(raw))
	want := []string{"header", "context", "section", "section", "section"}
	if !slices.Equal(got, want) || len(back.BlockSet) != len(want) {
		t.Errorf("block types = %v, want %v", got, want)
	}
}

func TestFinishedRolloutSaysHowLongItTook(t *testing.T) {
	n := note(Promoted, "n")
	n.Started = n.Time.Add(-270 * time.Second)
	mustContain(t, "promoted", blockTexts(t, rolloutMessage(n).Blocks), "*Took:* 4m30s")
	for _, kind := range []Kind{Advanced, Halted} {
		n := note(kind, "n")
		n.Started = n.Time.Add(-time.Minute)
		mustNotContain(t, string(kind), blockTexts(t, rolloutMessage(n).Blocks), "*Took:*")
	}
}
