package notifiers

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"fledge.dev/fledge/test/fakeslack"
)

// fastRetry keeps tests quick; GiveUpAfter is generous so a noisy machine does not fail them.
var fastRetry = RetryPolicy{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond, GiveUpAfter: 10 * time.Second}

// slackOf is the slack allowed on top of a deadline before a test calls it late.
const slackOf = 1500 * time.Millisecond

// recordingSender counts attempts and keeps their errors.
type recordingSender struct {
	Sender
	mu   sync.Mutex
	errs []error
}

func (r *recordingSender) Send(ctx context.Context, n Notification, thread *Thread) (*Thread, error) {
	t, err := r.Sender.Send(ctx, n, thread)
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
	return t, err
}

func (r *recordingSender) attempts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.errs)
}

func TestDeliverRetriesWhileSlackIsDown(t *testing.T) {
	fake := fakeslack.New(t)
	bot := &recordingSender{Sender: newBot(t, fake, BotConfig{})}
	down := fakeslack.Fault{Status: http.StatusInternalServerError}
	fake.FailNext("chat.postMessage", down, down, fakeslack.Fault{Status: http.StatusServiceUnavailable})

	thread, err := Deliver(context.Background(), bot, note(Started, "n1"), nil, fastRetry)
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	if bot.attempts() != 4 {
		t.Errorf("%d attempts, want 4", bot.attempts())
	}
	msgs := fake.TopLevel()
	if len(msgs) != 1 || thread == nil || msgs[0].TS != thread.TS {
		t.Errorf("messages %+v, thread %+v: want exactly one, the thread's", msgs, thread)
	}
}

func TestDeliverWebhookWaitsForSlackToAcceptConnections(t *testing.T) {
	// The receiver's address refuses connections at first, and opens a little later.
	recv := fakeslack.NewWebhook(t)
	recv.Down()
	up := make(chan error, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		up <- recv.Up()
	}()
	t.Cleanup(func() {
		if err := <-up; err != nil {
			t.Errorf("the receiver did not come back: %v", err)
		}
	})

	hook := newWebhook(t, recv, WebhookConfig{})
	sender := &recordingSender{Sender: hook}
	if _, err := Deliver(context.Background(), sender, note(Halted, "n1"), nil, fastRetry); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	if got := len(recv.Posts()); got != 1 {
		t.Errorf("%d messages received, want exactly 1", got)
	}
	if sender.attempts() < 2 || !strings.Contains(sender.errs[0].Error(), "connection refused") {
		t.Errorf("attempts %d, first error %v: want connection refused, then success", sender.attempts(), sender.errs[0])
	}
}

func TestDeliverWebhookRetriesServerErrors(t *testing.T) {
	recv := fakeslack.NewWebhook(t)
	recv.FailNext(fakeslack.Fault{Status: http.StatusInternalServerError}, fakeslack.Fault{Status: http.StatusBadGateway})
	if _, err := Deliver(context.Background(), newWebhook(t, recv, WebhookConfig{}), note(Aborted, "n1"), nil, fastRetry); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	if got := len(recv.Posts()); got != 1 {
		t.Errorf("%d messages, want 1", got)
	}
}

func TestDeliverWaitsAsLongAsSlackAsksWhenRateLimited(t *testing.T) {
	t.Run("bot", func(t *testing.T) {
		t.Parallel()
		fake := fakeslack.New(t)
		bot := newBot(t, fake, BotConfig{})
		thread := send(t, bot, note(Started, "n1"), nil)
		fake.FailNext("chat.update", fakeslack.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1"})

		start := time.Now()
		if _, err := Deliver(context.Background(), bot, note(Halted, "n2"), thread, fastRetry); err != nil {
			t.Fatalf("Deliver: %v", err)
		}
		if waited := time.Since(start); waited < 900*time.Millisecond {
			t.Errorf("retried after %s, Slack asked for 1s", waited)
		}
		if n := len(fake.Replies(thread.TS)); n != 1 {
			t.Errorf("%d replies, want 1", n)
		}
	})
	t.Run("webhook", func(t *testing.T) {
		t.Parallel()
		recv := fakeslack.NewWebhook(t)
		recv.FailNext(fakeslack.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1"})
		start := time.Now()
		if _, err := Deliver(context.Background(), newWebhook(t, recv, WebhookConfig{}), note(Halted, "n1"), nil, fastRetry); err != nil {
			t.Fatalf("Deliver: %v", err)
		}
		if waited := time.Since(start); waited < 900*time.Millisecond {
			t.Errorf("retried after %s, Slack asked for 1s", waited)
		}
		if got := len(recv.Posts()); got != 1 {
			t.Errorf("%d messages, want 1", got)
		}
	})
}

// A wait longer than the time left is pointless: Deliver says so at once.
func TestDeliverGivesUpAtOnceWhenRateLimitOutlastsDeadline(t *testing.T) {
	recv := fakeslack.NewWebhook(t)
	recv.FailNext(fakeslack.Fault{Status: http.StatusTooManyRequests, RetryAfter: "30"})
	start := time.Now()
	_, err := Deliver(context.Background(), newWebhook(t, recv, WebhookConfig{}), note(Halted, "n1"), nil,
		RetryPolicy{Initial: 10 * time.Millisecond, GiveUpAfter: 2 * time.Second})
	if !errors.Is(err, ErrGaveUp) || !strings.Contains(err.Error(), "rate limit") {
		t.Errorf("err = %v, want a give-up that names the rate limit", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %s", took)
	}
}

func TestDeliverStopsAtOnceOnErrorsThatCannotPass(t *testing.T) {
	cases := []struct {
		name   string
		cfg    BotConfig
		fault  *fakeslack.Fault
		code   string
		fixing string
	}{
		{"invalid token", BotConfig{Token: "xoxb-0000-0000-WRONGtoken"}, nil, "invalid_auth", "put a valid bot token"},
		{"unknown channel", BotConfig{Channel: fakeslack.MissingChannel}, nil, "channel_not_found", `channel "` + fakeslack.MissingChannel + `" does not exist`},
		{"bot not in channel", BotConfig{}, &fakeslack.Fault{SlackError: "not_in_channel"}, "not_in_channel", "/invite"},
		{"deactivated app", BotConfig{}, &fakeslack.Fault{SlackError: "account_inactive"}, "account_inactive", "reinstall the Slack app"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fake := fakeslack.New(t)
			if c.fault != nil {
				fake.FailNext("conversations.history", *c.fault)
			}
			bot := &recordingSender{Sender: newBot(t, fake, c.cfg)}
			start := time.Now()
			_, err := Deliver(context.Background(), bot, note(Started, "n1"), nil, RetryPolicy{Initial: time.Second, GiveUpAfter: time.Minute})
			if !IsPermanent(err) {
				t.Fatalf("err = %v, want a PermanentError", err)
			}
			var p *PermanentError
			errors.As(err, &p)
			if p.Code != c.code || !strings.Contains(err.Error(), c.fixing) {
				t.Errorf("err = %v; want code %s and a fix saying %q", err, c.code, c.fixing)
			}
			if bot.attempts() != 1 || time.Since(start) > slackOf {
				t.Errorf("%d attempts in %s, want 1 at once", bot.attempts(), time.Since(start))
			}
			if len(fake.TopLevel()) != 0 {
				t.Error("posted anyway")
			}
		})
	}
}

func TestDeliverReturnsWithinGiveUpAfterWhenSlackHangs(t *testing.T) {
	hang := fakeslack.Fault{Hang: true}
	giveUp := 500 * time.Millisecond
	policy := RetryPolicy{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond, GiveUpAfter: giveUp}

	t.Run("bot", func(t *testing.T) {
		t.Parallel()
		fake := fakeslack.New(t)
		fake.FailNext("conversations.history", hang, hang, hang)
		bot := newBot(t, fake, BotConfig{}) // the 10 s call timeout is longer than GiveUpAfter
		start := time.Now()
		_, err := Deliver(context.Background(), bot, note(Started, "n1"), nil, policy)
		took := time.Since(start)
		if !errors.Is(err, ErrGaveUp) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want ErrGaveUp over a deadline", err)
		}
		if took < giveUp-50*time.Millisecond || took > giveUp+slackOf {
			t.Errorf("returned after %s, want about %s", took, giveUp)
		}
	})
	t.Run("webhook", func(t *testing.T) {
		t.Parallel()
		recv := fakeslack.NewWebhook(t)
		recv.FailNext(hang, hang, hang)
		start := time.Now()
		_, err := Deliver(context.Background(), newWebhook(t, recv, WebhookConfig{}), note(Started, "n1"), nil, policy)
		if took := time.Since(start); !errors.Is(err, ErrGaveUp) || took > giveUp+slackOf {
			t.Errorf("err = %v after %s, want ErrGaveUp within about %s", err, took, giveUp)
		}
	})
}

// A call that hangs is cut at CallTimeout, so the next attempt can succeed before GiveUpAfter.
func TestDeliverRecoversFromHungCallsThanksToCallTimeout(t *testing.T) {
	fake := fakeslack.New(t)
	fake.FailNext("conversations.history", fakeslack.Fault{Hang: true}, fakeslack.Fault{Hang: true})
	bot := &recordingSender{Sender: newBot(t, fake, BotConfig{CallTimeout: 100 * time.Millisecond})}
	if _, err := Deliver(context.Background(), bot, note(Started, "n1"), nil, fastRetry); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	if bot.attempts() != 3 || len(fake.TopLevel()) != 1 {
		t.Errorf("%d attempts, %d messages; want 3 attempts and 1 message", bot.attempts(), len(fake.TopLevel()))
	}
}

func TestDeliverStopsWhenContextIsCancelled(t *testing.T) {
	recv := fakeslack.NewWebhook(t)
	recv.FailNext(fakeslack.Fault{Hang: true})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := Deliver(ctx, newWebhook(t, recv, WebhookConfig{}), note(Started, "n1"), nil, RetryPolicy{GiveUpAfter: time.Minute})
	if !errors.Is(err, ErrGaveUp) || !strings.Contains(err.Error(), "cancelled") || time.Since(start) > slackOf {
		t.Errorf("err = %v after %s, want a prompt give-up on cancel", err, time.Since(start))
	}
}

// scriptedSender answers from a script, to watch what Deliver passes along.
type scriptedSender struct {
	answers []scriptedAnswer
	threads []*Thread // the thread each attempt received
}

type scriptedAnswer struct {
	thread *Thread
	err    error
}

func (s *scriptedSender) Send(_ context.Context, _ Notification, thread *Thread) (*Thread, error) {
	s.threads = append(s.threads, thread)
	a := s.answers[len(s.threads)-1]
	return a.thread, a.err
}

// A send may post the rollout message and fail later (on the reply): the next attempt must
// update that message, not post another, and the caller must learn where it is.
func TestDeliverCarriesThreadFromFailedAttempt(t *testing.T) {
	posted := &Thread{Channel: fakeslack.Channel, TS: "1.000001"}
	s := &scriptedSender{answers: []scriptedAnswer{
		{posted, errors.New("reply failed")},
		{posted, errors.New("still failing")},
		{posted, nil},
	}}
	got, err := Deliver(context.Background(), s, note(Halted, "n1"), nil, fastRetry)
	if err != nil || got != posted {
		t.Fatalf("Deliver = %+v, %v", got, err)
	}
	if s.threads[0] != nil || s.threads[1] != posted || s.threads[2] != posted {
		t.Errorf("threads passed to attempts = %v", s.threads)
	}

	s = &scriptedSender{answers: []scriptedAnswer{{posted, &PermanentError{Code: "not_in_channel", Fix: "invite"}}}}
	if got, err := Deliver(context.Background(), s, note(Halted, "n1"), nil, fastRetry); got != posted || !IsPermanent(err) {
		t.Errorf("on a permanent error Deliver = %+v, %v; want the posted thread and the error", got, err)
	}
}

func TestJitterStaysBetweenHalfAndFull(t *testing.T) {
	for range 1000 {
		if j := jitter(100 * time.Millisecond); j < 50*time.Millisecond || j >= 100*time.Millisecond {
			t.Fatalf("jitter(100ms) = %s", j)
		}
	}
}

func TestDeliverCallsBeforeRetryBeforeEachRetry(t *testing.T) {
	recv := fakeslack.NewWebhook(t)
	recv.FailNext(fakeslack.Fault{Status: http.StatusInternalServerError}, fakeslack.Fault{Status: http.StatusBadGateway})
	var seen []int
	var lastErrs []string
	hook := BeforeRetry(func(ctx context.Context, attempt int, last error) error {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("the hook's context has no deadline")
		}
		seen = append(seen, attempt)
		lastErrs = append(lastErrs, last.Error())
		return nil
	})
	if _, err := Deliver(context.Background(), newWebhook(t, recv, WebhookConfig{}), note(Aborted, "n1"), nil, fastRetry, hook); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	if len(seen) != 2 || seen[0] != 2 || seen[1] != 3 || !strings.Contains(lastErrs[1], "502") {
		t.Errorf("hook saw attempts %v with errors %q, want 2 and 3 after the failures", seen, lastErrs)
	}
	if got := len(recv.Posts()); got != 1 {
		t.Errorf("%d messages, want 1", got)
	}
}

// A hook that says no stops the delivery before the next attempt, with its error.
func TestDeliverStopsWhenBeforeRetrySaysNo(t *testing.T) {
	recv := fakeslack.NewWebhook(t)
	recv.StartOutage(fakeslack.Fault{Status: http.StatusInternalServerError})
	errFenced := errors.New("not the leader any more")
	hook := BeforeRetry(func(context.Context, int, error) error { return errFenced })
	start := time.Now()
	_, err := Deliver(context.Background(), newWebhook(t, recv, WebhookConfig{}), note(Aborted, "n1"), nil, fastRetry, hook)
	if !errors.Is(err, errFenced) || errors.Is(err, ErrGaveUp) || time.Since(start) > slackOf {
		t.Errorf("err = %v after %s, want the hook's error at once", err, time.Since(start))
	}
	if recv.Calls() != 1 {
		t.Errorf("%d calls, want only the first attempt", recv.Calls())
	}
}
