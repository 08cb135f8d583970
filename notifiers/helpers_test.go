package notifiers

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"fledge.dev/fledge/test/fakeslack"
)

const testRevision = "7f9c2d1"

func ptr(v float64) *float64 { return &v }

// newBot is a SlackBot of the fake Slack: its token and channel unless cfg says otherwise.
func newBot(t *testing.T, fake *fakeslack.Server, cfg BotConfig) *SlackBot {
	t.Helper()
	if cfg.Token == "" {
		cfg.Token = fakeslack.Token
	}
	if cfg.Channel == "" {
		cfg.Channel = fakeslack.Channel
	}
	if cfg.APIURL == "" {
		cfg.APIURL = fake.URL()
	}
	b, err := NewSlackBot(cfg)
	if err != nil {
		t.Fatalf("NewSlackBot: %v", err)
	}
	return b
}

// newWebhook is a SlackWebhook that posts to the receiver, unless cfg names another URL.
func newWebhook(t *testing.T, recv *fakeslack.Webhook, cfg WebhookConfig) *SlackWebhook {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL = recv.URL()
	}
	w, err := NewSlackWebhook(cfg)
	if err != nil {
		t.Fatalf("NewSlackWebhook: %v", err)
	}
	return w
}

// seedReplies adds n Fledge replies to a thread, with the notification IDs r0, r1, ...
func seedReplies(fake *fakeslack.Server, t Thread, n int) {
	for i := range n {
		fake.Seed(fakeslack.Message{
			Channel: t.Channel, ThreadTS: t.TS, Text: "seeded",
			Metadata: &slack.SlackMetadata{EventType: metadataEventType, EventPayload: map[string]any{
				metaNotificationID: fmt.Sprintf("r%d", i), metaRole: roleReply,
			}},
		})
	}
}

// note is a notification of the rollout "r-1" of payments/api, at the state a kind implies.
func note(kind Kind, id string) Notification {
	n := Notification{
		ID:        id,
		RolloutID: "payments/api/r-1",
		Kind:      kind,
		Cluster:   "prod-eu",
		Namespace: "payments",
		Canary:    "api",
		Revision:  testRevision,
		Phase:     PhaseProgressing,
		Message:   fmt.Sprintf("%s at canary weight 40%%", kind),
		Weight:    40,
		Step:      2,
		Steps:     5,
		Threshold: 5,
		Time:      time.Now(),
		Metrics: []Metric{
			{Name: "success-rate", Value: ptr(99.41), Min: ptr(99), Verdict: VerdictPass},
			{Name: "latency-p99", Value: ptr(612), Primary: ptr(480), Max: ptr(500), Verdict: VerdictFail},
			{Name: "error-budget", Verdict: VerdictWait},
		},
	}
	switch kind {
	case Started:
		n.Weight, n.Step, n.Message, n.Metrics = 0, 0, "new revision "+testRevision+" is ready", nil
	case Halted:
		n.FailedChecks = 2
		n.Message = "check failed (2 of 5) at canary weight 40%: latency-p99: 612 is above the maximum 500"
	case Promoting:
		n.Phase, n.Weight = PhasePromoting, 100
	case Promoted:
		n.Phase, n.Weight, n.Message = PhaseSucceeded, 0, "promoted revision "+testRevision
	case Aborted:
		n.Phase, n.Weight, n.FailedChecks = PhaseFailed, 0, 5
		n.Message = "check failed (5 of 5): latency-p99: 612 is above the maximum 500"
	}
	return n
}

// blockTexts returns every text of the blocks, in order, as Slack would show them.
func blockTexts(t *testing.T, blocks []slack.Block) []string {
	t.Helper()
	raw, err := json.Marshal(slack.Blocks{BlockSet: blocks})
	if err != nil {
		t.Fatalf("marshal blocks: %v", err)
	}
	return textsOfJSON(t, string(raw))
}

// textsOfJSON collects the "text" strings of Block Kit JSON.
func textsOfJSON(t *testing.T, raw string) []string {
	t.Helper()
	texts, err := fakeslack.BlockTexts(raw)
	if err != nil {
		t.Fatal(err)
	}
	return texts
}

// blockTypes lists the block types of Block Kit JSON, in order.
func blockTypes(t *testing.T, raw string) []string {
	t.Helper()
	var blocks []struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal([]byte(raw), &blocks); err != nil {
		t.Fatalf("unmarshal blocks: %v", err)
	}
	var out []string
	for _, b := range blocks {
		out = append(out, b.Type)
	}
	return out
}

func mustContain(t *testing.T, what string, texts []string, wants ...string) {
	t.Helper()
	all := strings.Join(texts, "\n")
	for _, w := range wants {
		if !strings.Contains(all, w) {
			t.Errorf("%s: missing %q in:\n%s", what, w, all)
		}
	}
}

func mustNotContain(t *testing.T, what string, texts []string, unwanted ...string) {
	t.Helper()
	all := strings.Join(texts, "\n")
	for _, u := range unwanted {
		if strings.Contains(all, u) {
			t.Errorf("%s: unexpected %q in:\n%s", what, u, all)
		}
	}
}
