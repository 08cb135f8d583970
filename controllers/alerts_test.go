package controllers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"fledge.dev/fledge/analysis"
	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/test/cluster"
	"fledge.dev/fledge/test/fakeslack"
)

// These specs run rollouts with AlertProviders against the fake Slack the suite's managers
// post to (fakeSlack, started in BeforeSuite), and incoming-webhook receivers of their own.
// Each spec uses a channel of its own, so the messages of one spec never count in another.

var (
	// fakeSlack is the Slack Web API of the managers' bots.
	fakeSlack *fakeslack.Server
	// managerLog sees everything the managers log, to catch a token on its way there.
	managerLog = &secretWatch{secrets: []string{fakeslack.Token, refusedToken}}
)

// refusedToken is a bot token the fake Slack does not accept.
const refusedToken = "xoxb-9999-8888-REFUSEDtokenVALUE"

// The keys of the metadata Fledge puts on its Slack messages.
const (
	metaKind           = "kind"
	metaRolloutID      = "rollout_id"
	metaNotificationID = "notification_id"
)

var _ = Describe("Slack notifications", func() {
	AfterEach(func() {
		// Leave Slack healthy for the next spec, whatever this one did to it.
		fakeSlack.ClearFaults()
		Expect(fakeSlack.Up()).To(Succeed())
	})

	It("post one message per rollout, update it in place as the rollout moves, and reply when it is promoted", func(ctx context.Context) {
		ns, channel := newNamespace(ctx), newChannelID()
		createBotProvider(ctx, ns, "team", channel, fakeslack.Token)
		a := newAppIn(ctx, ns, withAlerts(alertTo("team", "info")))
		a.setImage(ctx, "example.com/web:v2")
		a.waitPhase(ctx, fledgev1alpha1.PhaseSucceeded)
		c := a.waitDelivered(ctx, 1)

		msgs := rolloutMessages(channel, rolloutIDOf(c))
		Expect(msgs).To(HaveLen(1), "one message for the rollout")
		msg := msgs[0]
		for _, m := range fakeSlack.TopLevelIn(channel) {
			Expect(m.TS == msg.TS || strings.HasSuffix(m.Meta(metaRolloutID), ".setup")).To(BeTrue(),
				"besides the rollout's message, only the one about setting up the canary: %s", m.Text)
		}
		Expect(kindsOf(msg.Versions)).To(Equal([]string{"RolloutStarted", "Advanced", "Advanced", "Advanced", "Advanced", "Promoting", "Promoted"}),
			"posted at the start, then updated once per transition")

		By("saying where the rollout stands, and how to act on it, while it is in progress")
		revision := c.Status.CanaryRevision
		var atForty string
		for _, v := range msg.Versions {
			text := textOf(v)
			if v.Meta(metaKind) == "RolloutStarted" || v.Meta(metaKind) == "Advanced" {
				Expect(text).To(ContainSubstring("kubectl fledge promote web -n " + ns))
				Expect(text).To(ContainSubstring("kubectl fledge abort web -n " + ns))
			}
			if strings.Contains(text, "advanced to 40%") {
				atForty = text
			}
		}
		for _, want := range []string{"*Cluster:* test", "*Namespace:* " + ns, "*Canary:* web", "*Revision:* `" + revision + "`",
			"*Phase:* Progressing", "▓▓▓▓░░░░░░ 40%", "*Step*\n2 of 4"} {
			Expect(atForty).To(ContainSubstring(want))
		}

		By("ending on the promotion, with all traffic back on the primary and nothing left to do")
		final := textOf(msg.Versions[len(msg.Versions)-1])
		Expect(final).To(HavePrefix("✅ " + ns + "/web: promoted"))
		Expect(final).To(And(ContainSubstring("*Phase:* Succeeded"), ContainSubstring("░░░░░░░░░░ 0%"), ContainSubstring("revision "+revision)))
		Expect(final).NotTo(ContainSubstring("kubectl fledge"))

		replies := fakeSlack.Replies(msg.TS)
		Expect(kindsOfReplies(replies)).To(Equal([]string{"Promoted"}))
		Expect(replies[0].Text).To(ContainSubstring("promoted"))
		Expect(textOf(replies[0].Versions[0])).To(ContainSubstring("*Promoted*: revision `" + revision + "` serves all traffic"))

		By("recording where the message lives")
		Expect(c.Status.Notifications.Providers).To(ConsistOf(fledgev1alpha1.ProviderDelivery{
			Provider: ns + "/team", Seq: c.Status.Notifications.NextSeq - 1,
			RolloutID: c.Status.RolloutID, Channel: channel, TS: msg.TS,
		}))
		Expect(a.eventReasons(ctx)).NotTo(ContainElement("NotificationFailed"))
		expectNoSecrets(ctx, a)
	})

	It("send each provider only the news of its severity", func(ctx context.Context) {
		ns, channel := newNamespace(ctx), newChannelID()
		createBotProvider(ctx, ns, "team", channel, fakeslack.Token)
		pager, oncall := startWebhook(), startWebhook()
		createWebhookProvider(ctx, ns, "pager", pager.URL())
		createWebhookProvider(ctx, ns, "oncall", oncall.URL())
		a := newAppIn(ctx, ns, withThreshold(2), withAlerts(alertTo("team", "info"), alertTo("pager", "error"), alertTo("oncall", "warn")))

		By("failing a rollout")
		checks.script(a.canary, analysis.Result{Verdict: analysis.Fail, Message: "success rate 91% < 99%"})
		a.setImage(ctx, "example.com/web:v2")
		a.waitPhase(ctx, fledgev1alpha1.PhaseFailed)
		c := a.waitDelivered(ctx, 3)

		aborted := "🛑 " + ns + "/web: aborted"
		Expect(headers(pager.Posts())).To(Equal([]string{aborted}), "error: the failure only")
		Expect(pager.Posts()[0].Text).To(ContainSubstring("2 of 2 checks failed; last: success rate 91%"))
		Expect(headers(oncall.Posts())).To(HaveExactElements(ContainSubstring(ns+"/web: halted"), aborted), "warn: the halt and the failure")
		failed := rolloutMessages(channel, rolloutIDOf(c))
		Expect(failed).To(HaveLen(1))
		Expect(kindsOfReplies(fakeSlack.Replies(failed[0].TS))).To(Equal([]string{"Halted", "Aborted"}), "info: everything, halt and failure in the thread")

		By("promoting the next revision")
		checks.script(a.canary, analysis.Result{Verdict: analysis.Pass})
		a.setImage(ctx, "example.com/web:v3")
		a.waitPhase(ctx, fledgev1alpha1.PhaseSucceeded)
		c = a.waitDelivered(ctx, 3)
		Expect(pager.Posts()).To(HaveLen(1), "error: nothing about a promotion")
		Expect(oncall.Posts()).To(HaveLen(2), "warn: nothing about a promotion")
		promoted := rolloutMessages(channel, rolloutIDOf(c))
		Expect(promoted).To(HaveLen(1), "the new rollout has a message of its own")
		Expect(kindsOfReplies(fakeSlack.Replies(promoted[0].TS))).To(Equal([]string{"Promoted"}))
		expectNoSecrets(ctx, a)
	})

	It("send no message or reply twice across controller restarts, even one while a call to Slack is in flight", func(ctx context.Context) {
		ns, channel := newNamespace(ctx), newChannelID()
		createBotProvider(ctx, ns, "team", channel, fakeslack.Token)
		a := newAppIn(ctx, ns, withInterval(2*time.Second), withAlerts(alertTo("team", "info")))
		a.setImage(ctx, "example.com/web:v2")
		a.waitWeight(ctx, 20)
		rolloutID := rolloutIDOf(a.get(ctx))
		msg := func() fakeslack.Message {
			msgs := rolloutMessages(channel, rolloutID)
			Expect(msgs).To(HaveLen(1))
			return msgs[0]
		}
		Eventually(func() []fakeslack.Message { return rolloutMessages(channel, rolloutID) }).WithContext(ctx).WithTimeout(30 * time.Second).Should(HaveLen(1))

		By("stopping the manager while Slack has applied an update but not answered it")
		// Slack did the work and the manager never learnt it: the window between a send and
		// recording it in the status, which a crash can hit.
		fakeSlack.FailNext("chat.update", fakeslack.Fault{Hang: true, LostReply: true})
		updates := msg().Updates
		Eventually(func() int { return msg().Updates }).WithContext(ctx).WithTimeout(30 * time.Second).Should(BeNumerically(">", updates))
		manager.stop()
		manager = startManager()

		By("stopping it again while Slack has posted the Promoted reply but not answered it")
		fakeSlack.FailNext("chat.postMessage", fakeslack.Fault{Hang: true, LostReply: true})
		Eventually(func() []fakeslack.Message { return fakeSlack.Replies(msg().TS) }).
			WithContext(ctx).WithTimeout(time.Minute).Should(HaveLen(1))
		manager.stop()
		manager = startManager()

		a.waitPhase(ctx, fledgev1alpha1.PhaseSucceeded)
		c := a.waitDelivered(ctx, 1)
		Expect(rolloutMessages(channel, rolloutID)).To(HaveLen(1), "no second rollout message")
		Expect(kindsOfReplies(fakeSlack.Replies(msg().TS))).To(Equal([]string{"Promoted"}), "no second reply")
		versions := msg().Versions
		Expect(versions[len(versions)-1].Meta(metaKind)).To(Equal("Promoted"))
		Expect(c.Status.Notifications.Providers[0].Failures).To(BeZero())
		expectNoSecrets(ctx, a)
	})

	It("deliver everything exactly once after Slack was down for a while", func(ctx context.Context) {
		ns, channel := newNamespace(ctx), newChannelID()
		createBotProvider(ctx, ns, "team", channel, fakeslack.Token)
		feed := startWebhook()
		createWebhookProvider(ctx, ns, "feed", feed.URL())
		// The dispatcher serves a Canary's providers one after the other: the feed, first, is
		// the one that retries through the outage, while the bot waits for its turn.
		a := newAppIn(ctx, ns, withInterval(2*time.Second), withThreshold(5), withAlerts(alertTo("feed", "info"), alertTo("team", "info")))
		a.setImage(ctx, "example.com/web:v2")
		a.waitWeight(ctx, 20)
		rolloutID := rolloutIDOf(a.get(ctx))
		Eventually(func() []fakeslack.Message { return rolloutMessages(channel, rolloutID) }).WithContext(ctx).WithTimeout(30 * time.Second).Should(HaveLen(1))

		By("answering 500 while a check fails")
		serverError := fakeslack.Fault{Status: http.StatusInternalServerError}
		fakeSlack.StartOutage(serverError)
		feed.StartOutage(serverError)
		// The bot's first reply after the outage is posted, but the answer is lost on the way.
		fakeSlack.FailNext("chat.postMessage", fakeslack.Fault{LostReply: true})
		lostBefore := fakeSlack.FaultsPlayed("chat.postMessage")
		checks.script(a.canary, analysis.Result{Verdict: analysis.Fail, Message: "p99 latency 730ms > 500ms"})
		Eventually(func() int32 { return a.get(ctx).Status.FailedChecks }).WithContext(ctx).WithTimeout(30 * time.Second).Should(BeNumerically(">=", 1))
		// The halt's message must meet the 500s before the servers go away, or the outage proves nothing.
		Eventually(feed.FaultsPlayed).WithContext(ctx).WithTimeout(30*time.Second).Should(BeNumerically(">", 0), "the feed met the outage")
		checks.script(a.canary, analysis.Result{Verdict: analysis.Pass})

		By("then refusing connections, then coming back well within the retry bound")
		fakeSlack.Down()
		feed.Down()
		time.Sleep(3 * time.Second)
		Expect(fakeSlack.Up()).To(Succeed())
		Expect(feed.Up()).To(Succeed())
		fakeSlack.EndOutage()
		feed.EndOutage()

		a.waitPhase(ctx, fledgev1alpha1.PhaseSucceeded)
		c := a.waitDelivered(ctx, 2)
		for _, p := range c.Status.Notifications.Providers {
			Expect(p.Failures).To(BeZero(), "%s gave up a notification: %s", p.Provider, p.LastError)
		}

		By("keeping one rollout message whose thread has each reply once")
		msgs := rolloutMessages(channel, rolloutID)
		Expect(msgs).To(HaveLen(1))
		Expect(msgs[0].Versions[len(msgs[0].Versions)-1].Meta(metaKind)).To(Equal("Promoted"))
		replies := fakeSlack.Replies(msgs[0].TS)
		var ids []string
		for _, r := range replies {
			ids = append(ids, r.Meta(metaNotificationID))
		}
		Expect(ids).To(HaveLen(len(uniq(ids))), "a reply sent twice")
		wantReplies := append(repeat("Halted", int(c.Status.FailedChecks)), "Promoted")
		Expect(kindsOfReplies(replies)).To(Equal(wantReplies))
		Expect(fakeSlack.FaultsPlayed("chat.postMessage")).To(Equal(lostBefore+1), "the reply whose answer was lost")

		By("giving the webhook each message once")
		posts := feed.Posts()
		var texts []string
		for _, p := range posts {
			texts = append(texts, p.Text)
		}
		Expect(texts).To(HaveLen(len(uniq(texts))), "a message posted twice")
		Expect(posts).To(HaveLen(int(c.Status.Notifications.NextSeq-1)), "a message lost: the feed takes every notification")
		Expect(texts[len(texts)-1]).To(ContainSubstring(ns + "/web: promoted"))
		expectNoSecrets(ctx, a)
	})

	It("never show a bot token: not in events, in the Canary status, nor in the manager's log", func(ctx context.Context) {
		ns, channel := newNamespace(ctx), newChannelID()
		createBotProvider(ctx, ns, "team", channel, refusedToken)
		// Slack first fails with an error that quotes the token, then refuses the token.
		fakeSlack.FailNext("conversations.history", fakeslack.Fault{SlackError: "internal_error: token " + refusedToken})
		a := newAppIn(ctx, ns, withAlerts(alertTo("team", "info")))
		a.setImage(ctx, "example.com/web:v2") // the rollout's first notification meets the refusal

		var failures []eventsv1.Event
		Eventually(func() []eventsv1.Event {
			failures = a.events(ctx, "NotificationFailed")
			return failures
		}).WithContext(ctx).WithTimeout(30 * time.Second).ShouldNot(BeEmpty())
		Expect(failures[0].Type).To(Equal(corev1.EventTypeWarning))
		Expect(failures[0].Note).To(ContainSubstring("the bot token is invalid"))
		c := a.waitDelivered(ctx, 1)
		Expect(c.Status.Notifications.Providers[0].LastError).To(ContainSubstring("invalid_auth"))
		expectNoSecrets(ctx, a)
	})

	// Last: the notifications it gives up may still be on their way when it ends.
	It("keep the rollout on time while Slack hangs, and give notifications up after the retry bound", func(ctx context.Context) {
		const interval = 2 * time.Second
		ns, channel := newNamespace(ctx), newChannelID()
		createBotProvider(ctx, ns, "team", channel, fakeslack.Token)
		a := newAppIn(ctx, ns, withInterval(interval), withAlerts(alertTo("team", "info")))
		steps := a.recordSteps()

		fakeSlack.StartOutage(fakeslack.Fault{Hang: true})
		hangStart := time.Now()
		a.setImage(ctx, "example.com/web:v2")
		a.waitPhase(ctx, fledgev1alpha1.PhaseSucceeded)

		By("taking each step an interval after the previous one")
		// The watch behind steps sees the promotion a moment after waitPhase saw its end.
		var times []time.Time
		Eventually(func() []time.Time {
			times = steps.times()
			return times
		}).WithContext(ctx).Should(HaveLen(5), "steps 1 to 4, and the promotion")
		for i := 1; i < len(times); i++ {
			Expect(times[i].Sub(times[i-1])).To(BeNumerically("~", interval, time.Second), "step %d", i+1)
		}

		By("giving the first notification up once the retry bound has passed")
		var failures []eventsv1.Event
		Eventually(func() []eventsv1.Event {
			failures = a.events(ctx, "NotificationFailed")
			return failures
		}).WithContext(ctx).WithTimeout(notificationRetry.GiveUpAfter + 30*time.Second).ShouldNot(BeEmpty())
		first := failures[0]
		Expect(first.Type).To(Equal(corev1.EventTypeWarning))
		Expect(first.Note).To(And(ContainSubstring("AlertProvider "+ns+"/team was given up"), ContainSubstring("gave up")))
		Expect(first.EventTime.Sub(hangStart)).To(BeNumerically(">=", notificationRetry.GiveUpAfter-time.Second), "retried up to the bound")
		var team fledgev1alpha1.ProviderDelivery
		Eventually(func(g Gomega) {
			c := &fledgev1alpha1.Canary{}
			g.Expect(k8s.Get(ctx, a.key(), c)).To(Succeed())
			g.Expect(c.Status.Notifications.Providers).To(HaveLen(1))
			team = c.Status.Notifications.Providers[0]
			g.Expect(team.Failures).To(BeNumerically(">=", 1))
		}).WithContext(ctx).Should(Succeed())
		Expect(team.LastError).To(And(ContainSubstring("gave up"), ContainSubstring("context deadline exceeded")))

		By("delivering what is left once Slack answers again")
		fakeSlack.EndOutage()
		c := a.waitDelivered(ctx, 1)
		msgs := rolloutMessages(channel, rolloutIDOf(c))
		Expect(msgs).To(HaveLen(1))
		Expect(msgs[0].Versions[len(msgs[0].Versions)-1].Meta(metaKind)).To(Equal("Promoted"))
		expectNoSecrets(ctx, a)
	})
})

func newNamespace(ctx context.Context) string {
	GinkgoHelper()
	ns := cluster.EnabledNamespace("alerts-" + rand.String(6))
	Expect(k8s.Create(ctx, ns)).To(Succeed())
	return ns.Name
}

// newChannelID is a Slack channel ID of its own for a spec.
func newChannelID() string { return "C" + strings.ToUpper(rand.String(9)) }

// createBotProvider creates an AlertProvider posting to channel with a bot token from a Secret.
func createBotProvider(ctx context.Context, ns, name, channel, token string) {
	GinkgoHelper()
	ref := createSecret(ctx, ns, name+"-slack", "token", token)
	Expect(k8s.Create(ctx, &fledgev1alpha1.AlertProvider{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       fledgev1alpha1.AlertProviderSpec{Channel: channel, Username: "Fledge", BotToken: ref},
	})).To(Succeed())
}

// createWebhookProvider creates an AlertProvider posting to an incoming webhook from a Secret.
func createWebhookProvider(ctx context.Context, ns, name, url string) {
	GinkgoHelper()
	ref := createSecret(ctx, ns, name+"-webhook", "url", url)
	Expect(k8s.Create(ctx, &fledgev1alpha1.AlertProvider{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       fledgev1alpha1.AlertProviderSpec{WebhookURL: ref},
	})).To(Succeed())
}

func createSecret(ctx context.Context, ns, name, key, value string) *fledgev1alpha1.SecretKeyRef {
	GinkgoHelper()
	Expect(k8s.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Data:       map[string][]byte{key: []byte(value)},
	})).To(Succeed())
	return &fledgev1alpha1.SecretKeyRef{SecretName: name, Key: key}
}

func startWebhook() *fakeslack.Webhook {
	GinkgoHelper()
	w, err := fakeslack.StartWebhook()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(w.Close)
	return w
}

func withAlerts(alerts ...fledgev1alpha1.CanaryAlert) appOption {
	return canaryOption(func(c *fledgev1alpha1.Canary) { c.Spec.Analysis.Alerts = alerts })
}

func alertTo(provider, severity string) fledgev1alpha1.CanaryAlert {
	return fledgev1alpha1.CanaryAlert{ProviderRef: fledgev1alpha1.AlertProviderRef{Name: provider}, Severity: severity}
}

// waitDelivered waits until each of the Canary's providers has dealt with every notification
// queued so far (delivered or given up).
func (a *app) waitDelivered(ctx context.Context, providers int) *fledgev1alpha1.Canary {
	GinkgoHelper()
	var c *fledgev1alpha1.Canary
	Eventually(func(g Gomega) {
		c = &fledgev1alpha1.Canary{}
		g.Expect(k8s.Get(ctx, a.key(), c)).To(Succeed())
		n := c.Status.Notifications
		g.Expect(n).NotTo(BeNil())
		g.Expect(n.Providers).To(HaveLen(providers))
		for _, p := range n.Providers {
			g.Expect(p.Seq).To(Equal(n.NextSeq-1), "provider %s", p.Provider)
		}
	}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(200 * time.Millisecond).Should(Succeed())
	return c
}

// events returns the events about the Canary with the given reason, oldest first.
func (a *app) events(ctx context.Context, reason string) []eventsv1.Event {
	GinkgoHelper()
	var list eventsv1.EventList
	Expect(k8s.List(ctx, &list, client.InNamespace(a.ns))).To(Succeed())
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Kind == "Canary" && e.Regarding.Name == a.name && e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}

// rolloutIDOf is how the notifications name the Canary's current rollout.
func rolloutIDOf(c *fledgev1alpha1.Canary) string { return string(c.UID) + "." + c.Status.RolloutID }

// rolloutMessages are the top-level messages of channel about one rollout.
func rolloutMessages(channel, rolloutID string) []fakeslack.Message {
	var out []fakeslack.Message
	for _, m := range fakeSlack.TopLevelIn(channel) {
		if m.Meta(metaRolloutID) == rolloutID {
			out = append(out, m)
		}
	}
	return out
}

// kindsOf lists the kind of notification behind each content.
func kindsOf(versions []fakeslack.Content) []string {
	var out []string
	for _, v := range versions {
		out = append(out, v.Meta(metaKind))
	}
	return out
}

func kindsOfReplies(replies []fakeslack.Message) []string {
	var out []string
	for _, r := range replies {
		out = append(out, r.Meta(metaKind))
	}
	return out
}

// textOf is what Slack shows of a content: the texts of its blocks, then its fallback text.
func textOf(c fakeslack.Content) string {
	GinkgoHelper()
	texts, err := fakeslack.BlockTexts(c.Blocks)
	Expect(err).NotTo(HaveOccurred())
	return strings.Join(append(texts, c.Text), "\n")
}

// headers are the header lines of webhook messages.
func headers(posts []fakeslack.WebhookPost) []string {
	GinkgoHelper()
	var out []string
	for _, p := range posts {
		texts, err := fakeslack.BlockTexts(string(p.Blocks))
		Expect(err).NotTo(HaveOccurred())
		Expect(texts).NotTo(BeEmpty())
		out = append(out, texts[0])
	}
	return out
}

func uniq(s []string) map[string]bool {
	out := map[string]bool{}
	for _, v := range s {
		out[v] = true
	}
	return out
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// expectNoSecrets checks that no bot token of these specs shows in the Canary, the events of
// its namespace, or the managers' log.
func expectNoSecrets(ctx context.Context, a *app) {
	GinkgoHelper()
	var list eventsv1.EventList
	Expect(k8s.List(ctx, &list, client.InNamespace(a.ns))).To(Succeed())
	events, err := json.Marshal(list)
	Expect(err).NotTo(HaveOccurred())
	canary, err := json.Marshal(a.get(ctx))
	Expect(err).NotTo(HaveOccurred())
	for _, secret := range managerLog.secrets {
		Expect(string(events)).NotTo(ContainSubstring(secret), "an event shows a token")
		Expect(string(canary)).NotTo(ContainSubstring(secret), "the Canary shows a token")
	}
	Expect(managerLog.leaks()).To(BeEmpty(), "the manager logged a token")
}

// secretWatch is a log sink that keeps only the lines showing one of its secrets.
type secretWatch struct {
	secrets []string
	mu      sync.Mutex
	leaked  []string
}

func (w *secretWatch) Write(p []byte) (int, error) {
	for _, s := range w.secrets {
		if strings.Contains(string(p), s) {
			w.mu.Lock()
			w.leaked = append(w.leaked, string(p))
			w.mu.Unlock()
			break
		}
	}
	return len(p), nil
}

func (w *secretWatch) leaks() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.leaked...)
}

// stepLog records, through a watch, when the Canary took each step of its rollout and when
// it entered the promotion, as its status says.
type stepLog struct {
	mu        sync.Mutex
	steps     map[int32]time.Time
	promoting time.Time
}

func (a *app) recordSteps() *stepLog {
	GinkgoHelper()
	watcher, err := client.NewWithWatch(stack.Config, client.Options{Scheme: stack.Scheme})
	Expect(err).NotTo(HaveOccurred())
	w, err := watcher.Watch(context.Background(), &fledgev1alpha1.CanaryList{},
		client.InNamespace(a.ns), client.MatchingFields{"metadata.name": a.name})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(w.Stop)
	log := &stepLog{steps: map[int32]time.Time{}}
	go func() {
		for ev := range w.ResultChan() {
			c, ok := ev.Object.(*fledgev1alpha1.Canary)
			if !ok || c.Status.LastTransitionTime == nil {
				continue
			}
			at := c.Status.LastTransitionTime.Time
			log.mu.Lock()
			switch {
			case c.Status.Phase == fledgev1alpha1.PhaseProgressing && c.Status.StepIndex > 0:
				if _, seen := log.steps[c.Status.StepIndex]; !seen {
					log.steps[c.Status.StepIndex] = at
				}
			case c.Status.Phase == fledgev1alpha1.PhasePromoting && log.promoting.IsZero():
				log.promoting = at
			}
			log.mu.Unlock()
		}
	}()
	return log
}

// times are the times of steps 1, 2, ... in order, then of the promotion.
func (l *stepLog) times() []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []time.Time
	for i := int32(1); ; i++ {
		t, ok := l.steps[i]
		if !ok {
			break
		}
		out = append(out, t)
	}
	if !l.promoting.IsZero() {
		out = append(out, l.promoting)
	}
	return out
}
