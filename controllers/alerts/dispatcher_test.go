package alerts

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/test/fakeslack"
)

// within is how soon a healthy provider must have its messages while others hang.
const within = 3 * time.Second

// A provider that hangs holds back its own messages only: the Canary's other provider gets all
// of its messages at once.
func TestHangingProviderDoesNotDelayAnotherProvider(t *testing.T) {
	stuck, healthy := fakeslack.NewWebhook(t), fakeslack.NewWebhook(t)
	stuck.StartOutage(fakeslack.Fault{Hang: true})
	w := newWorld(t)
	w.webhookProvider("stuck-1", stuck.URL())
	w.webhookProvider("healthy-1", healthy.URL())
	w.canary("web", 3, "stuck-1", "healthy-1")
	w.start(nil)
	w.enqueue("web")

	eventually(t, within, func() (bool, string) {
		p := w.progress("web", "healthy-1")
		return p.Seq == 3 && len(healthy.Posts()) == 3, fmt.Sprintf("healthy provider at seq %d with %d posts", p.Seq, len(healthy.Posts()))
	})
	if p := w.progress("web", "stuck-1"); p.Seq != 0 || stuck.Calls() != 1 {
		t.Errorf("hanging provider at seq %d after %d calls, want 0 after the 1 that hangs", p.Seq, stuck.Calls())
	}
}

// Five Canaries on a hanging webhook take two workers (their provider's bound), not all of
// them: the Canary on a healthy provider is delivered within seconds, even with few workers.
func TestFiveCanariesOnAHangingWebhookLeaveWorkersToOthers(t *testing.T) {
	stuck, healthy := fakeslack.NewWebhook(t), fakeslack.NewWebhook(t)
	stuck.StartOutage(fakeslack.Fault{Hang: true})
	w := newWorld(t)
	w.webhookProvider("stuck-5", stuck.URL())
	w.webhookProvider("healthy-5", healthy.URL())
	for i := range 5 {
		w.canary(fmt.Sprintf("hung-%d", i), 2, "stuck-5")
	}
	w.canary("web", 2, "healthy-5")
	w.start(func(d *Dispatcher) { d.Workers, d.PerProviderWorkers = 4, 2 })
	for i := range 5 {
		w.enqueue(fmt.Sprintf("hung-%d", i))
	}
	eventually(t, within, func() (bool, string) {
		return stuck.Calls() == 2, fmt.Sprintf("%d calls to the hanging webhook", stuck.Calls())
	})
	start := time.Now()
	w.enqueue("web")

	eventually(t, within, func() (bool, string) {
		p := w.progress("web", "healthy-5")
		return p.Seq == 2, fmt.Sprintf("healthy provider at seq %d", p.Seq)
	})
	t.Logf("delivered to the healthy provider in %s", time.Since(start).Round(time.Millisecond))
	if len(healthy.Posts()) != 2 {
		t.Errorf("%d posts to the healthy webhook, want 2", len(healthy.Posts()))
	}
	time.Sleep(time.Second) // had the three other Canaries of the hanging provider a way past their line, they would call by now
	if n := stuck.Calls(); n != 2 {
		t.Errorf("%d calls to the hanging webhook at once, want its bound of 2", n)
	}
}

// Retries show in status (attempts) and in the metrics while they happen, and attempts go back
// to zero when the notification gets through.
func TestRetriesAreVisibleInStatusAndMetrics(t *testing.T) {
	flaky := fakeslack.NewWebhook(t)
	flaky.StartOutage(fakeslack.Fault{Status: http.StatusInternalServerError})
	w := newWorld(t)
	w.webhookProvider("flaky", flaky.URL())
	w.canary("web", 2, "flaky")
	w.start(nil)
	before := counter(retriesTotal, ns+"/flaky")
	w.enqueue("web")

	eventually(t, 5*time.Second, func() (bool, string) {
		p := w.progress("web", "flaky")
		return p.Attempts >= 3, fmt.Sprintf("attempts %d", p.Attempts)
	})
	if p := w.progress("web", "flaky"); p.Seq != 0 || p.Failures != 0 {
		t.Errorf("progress while retrying = %+v, want seq 0 and no failure", p)
	}
	if got := counter(retriesTotal, ns+"/flaky") - before; got < 2 {
		t.Errorf("fledge_notifications_retried_total rose by %v, want the retries", got)
	}
	flaky.EndOutage()
	eventually(t, 5*time.Second, func() (bool, string) {
		p := w.progress("web", "flaky")
		return p.Seq == 2 && p.Attempts == 0, fmt.Sprintf("progress %+v", p)
	})
	if n := len(flaky.Posts()); n != 2 {
		t.Errorf("%d posts, want 2", n)
	}
}

// Retries are bounded: past GiveUpAfter the notification is given up on, counted and told,
// and the next one is sent.
func TestRetriesAreBounded(t *testing.T) {
	down := fakeslack.NewWebhook(t)
	down.FailNext(fakeslack.Fault{Hang: true})
	down.StartOutage(fakeslack.Fault{Status: http.StatusServiceUnavailable})
	w := newWorld(t)
	w.webhookProvider("down", down.URL())
	w.canary("web", 1, "down")
	w.start(func(d *Dispatcher) { d.Retry.GiveUpAfter = 700 * time.Millisecond })
	failed := counter(failedTotal, ns+"/down")
	w.enqueue("web")

	eventually(t, 5*time.Second, func() (bool, string) {
		p := w.progress("web", "down")
		return p.Seq == 1, fmt.Sprintf("progress %+v", p)
	})
	p := w.progress("web", "down")
	if p.Failures != 1 || p.Attempts != 0 || !strings.Contains(p.LastError, "gave up") {
		t.Errorf("progress = %+v, want one failure that gave up, and attempts back to 0", p)
	}
	if counter(failedTotal, ns+"/down")-failed != 1 || w.events.count("NotificationFailed") != 1 {
		t.Errorf("failures counted %v, events %d; want 1 and 1", counter(failedTotal, ns+"/down")-failed, w.events.count("NotificationFailed"))
	}
}

// A status write of someone else between the read and the record makes the record conflict:
// the dispatcher reads the Canary again and applies its provider's progress to what it finds,
// keeping the other write, and sends nothing again.
func TestConflictOnRecordRereadsAndDoesNotResend(t *testing.T) {
	hook := fakeslack.NewWebhook(t)
	w := newWorld(t)
	w.webhookProvider("hook", hook.URL())
	w.canary("web", 2, "hook")
	var patches, conflicts atomic.Int32
	w.funcs.SubResourcePatch = func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
		if patches.Add(1) == 1 {
			// The reconciler writes the status meanwhile, another provider's progress included.
			other := &fledgev1alpha1.Canary{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(obj), other); err != nil {
				return err
			}
			other.Status.Phase = fledgev1alpha1.PhaseSucceeded
			other.Status.Notifications.Providers = append(other.Status.Notifications.Providers, fledgev1alpha1.ProviderDelivery{Provider: "elsewhere/other", Seq: 7})
			if err := c.Status().Update(ctx, other); err != nil {
				return err
			}
		}
		err := c.SubResource(sub).Patch(ctx, obj, patch, opts...)
		if apierrors.IsConflict(err) {
			conflicts.Add(1)
		}
		return err
	}
	w.start(nil)
	w.enqueue("web")

	eventually(t, within, func() (bool, string) {
		p := w.progress("web", "hook")
		return p.Seq == 2, fmt.Sprintf("progress %+v", p)
	})
	if conflicts.Load() == 0 {
		t.Fatal("no conflict: the record carries no resourceVersion precondition")
	}
	if n := len(hook.Posts()); n != 2 {
		t.Errorf("%d posts, want 2: a conflict must not send again", n)
	}
	c := &fledgev1alpha1.Canary{}
	if err := w.client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "web"}, c); err != nil {
		t.Fatal(err)
	}
	if c.Status.Phase != fledgev1alpha1.PhaseSucceeded || providerProgress(c.Status.Notifications, "elsewhere/other").Seq != 7 {
		t.Errorf("the other write was lost: phase %q, providers %+v", c.Status.Phase, c.Status.Notifications.Providers)
	}
}

// Another process recorded this provider further on meanwhile: the dispatcher never lowers its
// seq, and does not send what the other delivered.
func TestRecordNeverLowersProgress(t *testing.T) {
	hook := fakeslack.NewWebhook(t)
	w := newWorld(t)
	w.webhookProvider("ahead", hook.URL())
	w.canary("web", 3, "ahead")
	var patches atomic.Int32
	w.funcs.SubResourcePatch = func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
		if patches.Add(1) == 1 {
			other := &fledgev1alpha1.Canary{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(obj), other); err != nil {
				return err
			}
			other.Status.Notifications.Providers = []fledgev1alpha1.ProviderDelivery{{Provider: ns + "/ahead", Seq: 3, TS: "theirs"}}
			if err := c.Status().Update(ctx, other); err != nil {
				return err
			}
		}
		return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
	}
	w.start(nil)
	w.enqueue("web")

	eventually(t, within, func() (bool, string) { return patches.Load() >= 1, "no record" })
	time.Sleep(300 * time.Millisecond)
	if p := w.progress("web", "ahead"); p.Seq != 3 || p.TS != "theirs" {
		t.Errorf("progress = %+v, want the other's, seq 3", p)
	}
	if n := len(hook.Posts()); n != 1 {
		t.Errorf("%d posts, want only the first, sent before the other recorded all three", n)
	}
}

// A record that keeps conflicting past its bound fails the item; the next try records the
// progress it owes, and sends nothing again.
func TestRecordThatKeepsFailingIsNotResent(t *testing.T) {
	hook := fakeslack.NewWebhook(t)
	w := newWorld(t)
	w.webhookProvider("busy", hook.URL())
	w.canary("web", 1, "busy")
	var patches atomic.Int32
	w.funcs.SubResourcePatch = func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
		if patches.Add(1) <= int32(recordBackoff.Steps)+2 {
			return apierrors.NewConflict(schema.GroupResource{Group: "fledge.dev", Resource: "canaries"}, obj.GetName(), errors.New("busy"))
		}
		return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
	}
	w.start(nil)
	w.enqueue("web")

	eventually(t, 5*time.Second, func() (bool, string) {
		p := w.progress("web", "busy")
		return p.Seq == 1, fmt.Sprintf("progress %+v after %d patches", p, patches.Load())
	})
	if n := hook.Calls(); n != 1 {
		t.Errorf("%d posts, want 1", n)
	}
}

// The Fence refusing stops every send: nothing is posted or recorded, and the item is tried
// again later, until the Fence allows it.
func TestFenceRefusingPreventsSends(t *testing.T) {
	hook := fakeslack.NewWebhook(t)
	w := newWorld(t)
	w.webhookProvider("fenced", hook.URL())
	w.canary("web", 2, "fenced")
	f := &testFence{refuse: errors.New("the lease is another's")}
	w.start(func(d *Dispatcher) { d.Fence = f })
	w.enqueue("web")

	eventually(t, 5*time.Second, func() (bool, string) { return f.count() >= 3, fmt.Sprintf("%d checks", f.count()) })
	if hook.Calls() != 0 {
		t.Errorf("%d posts while fenced", hook.Calls())
	}
	if p := w.progress("web", "fenced"); p != (fledgev1alpha1.ProviderDelivery{Provider: ns + "/fenced"}) {
		t.Errorf("progress recorded while fenced: %+v", p)
	}

	f.set(nil)
	eventually(t, 5*time.Second, func() (bool, string) {
		p := w.progress("web", "fenced")
		return p.Seq == 2, fmt.Sprintf("progress %+v", p)
	})
	if n := len(hook.Posts()); n != 2 {
		t.Errorf("%d posts, want 2", n)
	}
}

// The Fence is asked before retries too: a process that lost its lease while waiting to retry
// does not post, and records nothing, not even the failure.
func TestFenceRefusingStopsRetries(t *testing.T) {
	hook := fakeslack.NewWebhook(t)
	hook.StartOutage(fakeslack.Fault{Status: http.StatusInternalServerError})
	w := newWorld(t)
	w.webhookProvider("lost-lease", hook.URL())
	w.canary("web", 1, "lost-lease")
	f := &testFence{}
	w.start(func(d *Dispatcher) { d.Fence = f })
	w.enqueue("web")

	eventually(t, 5*time.Second, func() (bool, string) { return hook.Calls() >= 1, "no attempt" })
	f.set(errors.New("the lease is another's"))
	calls := hook.Calls()
	time.Sleep(500 * time.Millisecond)
	if n := hook.Calls(); n > calls+1 {
		t.Errorf("%d attempts after the Fence refused, at most the one under way", n-calls)
	}
	if p := w.progress("web", "lost-lease"); p.Seq != 0 || p.Failures != 0 {
		t.Errorf("progress = %+v, want nothing given up", p)
	}
}

// Shutting down is not giving up: a hanging send ends with the dispatcher, unrecorded.
func TestShutdownIsNotGivingUp(t *testing.T) {
	stuck := fakeslack.NewWebhook(t)
	stuck.StartOutage(fakeslack.Fault{Hang: true})
	w := newWorld(t)
	w.webhookProvider("stopping", stuck.URL())
	w.canary("web", 1, "stopping")
	w.start(nil)
	w.enqueue("web")
	eventually(t, within, func() (bool, string) { return stuck.Calls() == 1, "no call" })

	start := time.Now()
	w.shutDown()
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("stopping took %s", took)
	}
	if p := w.progress("web", "stopping"); p.Seq != 0 || p.Failures != 0 || w.events.count("NotificationFailed") != 0 {
		t.Errorf("progress = %+v after the shutdown, want nothing given up", p)
	}
}

// A bot whose channel is a "#name" is told the channel ID its provider recorded, so a new
// rollout's message is looked for in the history without listing the channels.
func TestBotIsToldTheRecordedChannelID(t *testing.T) {
	slack := fakeslack.New(t)
	deploys := slack.AddChannel(fakeslack.ChannelInfo{ID: "C0DEPLOYS1", Name: "deploys"})
	w := newWorld(t)
	w.botProvider("bot", "#deploys")
	c := w.canary("web", 1, "bot")
	c.Status.Notifications.Providers = []fledgev1alpha1.ProviderDelivery{{Provider: ns + "/bot", RolloutID: "r-0", Channel: deploys.ID, TS: "1.000001"}}
	w.start(func(d *Dispatcher) { d.SlackAPIURL = slack.URL() })
	w.enqueue("web")

	eventually(t, within, func() (bool, string) {
		p := w.progress("web", "bot")
		return p.Seq == 1, fmt.Sprintf("progress %+v", p)
	})
	if p := w.progress("web", "bot"); p.Channel != deploys.ID || p.RolloutID != "r-1" {
		t.Errorf("progress = %+v, want the new rollout's message in %s", p, deploys.ID)
	}
	if slack.Calls("conversations.list") != 0 || slack.Calls("conversations.history") != 1 {
		t.Errorf("%d list calls, %d history calls; want 0 and 1", slack.Calls("conversations.list"), slack.Calls("conversations.history"))
	}
}

func TestProviderNamedTwiceIsToldAtItsMostTalkativeSeverity(t *testing.T) {
	c := &fledgev1alpha1.Canary{}
	c.Namespace = ns
	for _, s := range []string{"error", "warn", "error"} {
		c.Spec.Analysis.Alerts = append(c.Spec.Analysis.Alerts, fledgev1alpha1.CanaryAlert{ProviderRef: fledgev1alpha1.AlertProviderRef{Name: "p"}, Severity: s})
	}
	if got, ok := targetOf(c, "", ns+"/p"); !ok || got.Severity != "warn" {
		t.Errorf("targetOf = %+v, %v; want warn", got, ok)
	}
	c.Spec.Analysis.Alerts[2].Severity = "info"
	if got, _ := targetOf(c, "", ns+"/p"); got.Severity != "info" {
		t.Errorf("targetOf = %+v; want info", got)
	}
	if _, ok := targetOf(c, "", ns+"/other"); ok {
		t.Error("found a provider the Canary does not name")
	}
}

// However often an item failed, it is tried again within retryBackoffMax: a notification is
// never held back by the queue longer than that.
func TestAnItemThatKeepsFailingIsRetriedWithinTheBackoffBound(t *testing.T) {
	limiter := retryLimiter()
	it := item{Provider: "ns/p"}
	var last time.Duration
	for range 100 {
		last = limiter.When(it)
	}
	if last > retryBackoffMax || last < retryBackoffMax/2 {
		t.Errorf("after 100 failures the item waits %s, want up to %s", last, retryBackoffMax)
	}
	limiter.Forget(it)
	if first := limiter.When(it); first > time.Second {
		t.Errorf("after a success the item waits %s again", first)
	}
}

// A Canary may post through an AlertProvider of another namespace only when that provider's
// owners share it with the Canary's namespace: it posts with their credentials. The one not
// shared is given up at once, saying what to change, and never called.
func TestAProviderOfAnotherNamespacePostsOnlyWhenItsOwnersShareIt(t *testing.T) {
	private, shared := fakeslack.NewWebhook(t), fakeslack.NewWebhook(t)
	w := newWorld(t)
	w.webhookProviderIn("team-b", "private", private.URL(), nil)
	w.webhookProviderIn("team-b", "shared", shared.URL(), []string{"team-c", ns})
	c := w.canary("web", 2)
	for _, name := range []string{"private", "shared"} {
		c.Spec.Analysis.Alerts = append(c.Spec.Analysis.Alerts, fledgev1alpha1.CanaryAlert{
			ProviderRef: fledgev1alpha1.AlertProviderRef{Namespace: "team-b", Name: name}, Severity: "info"})
	}
	w.start(nil)
	w.enqueue("web")

	eventually(t, within, func() (bool, string) {
		p, q := w.progress("web", "team-b/shared"), w.progress("web", "team-b/private")
		return p.Seq == 2 && q.Seq == 2, fmt.Sprintf("shared at seq %d, private at seq %d", p.Seq, q.Seq)
	})
	if n := len(shared.Posts()); n != 2 {
		t.Errorf("%d posts through the shared provider, want 2", n)
	}
	if n := private.Calls(); n != 0 {
		t.Errorf("%d calls to the provider that is not shared, want none", n)
	}
	p := w.progress("web", "team-b/private")
	want := `AlertProvider team-b/private is not shared with namespace ` + ns + `: its owners may add "` + ns + `" to its spec.sharedWith`
	if p.Failures != 2 || p.LastError != want {
		t.Errorf("the provider not shared: %d failures, last error %q; want 2 and %q", p.Failures, p.LastError, want)
	}
}
