package notifiers

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/slack-go/slack"
)

// RetryPolicy says how long Deliver keeps trying.
type RetryPolicy struct {
	// Initial is the first wait between attempts; zero means one second.
	Initial time.Duration
	// Max caps the wait between attempts; zero means one minute.
	Max time.Duration
	// GiveUpAfter bounds the whole delivery, calls and waits included; zero means five minutes.
	GiveUpAfter time.Duration
}

// ErrGaveUp marks a delivery that ran out of time (GiveUpAfter or the caller's context) while
// the failure could still pass: the caller may try again later.
var ErrGaveUp = errors.New("gave up delivering the notification")

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Initial <= 0 {
		p.Initial = time.Second
	}
	if p.Max <= 0 {
		p.Max = time.Minute
	}
	p.Max = max(p.Max, p.Initial)
	if p.GiveUpAfter <= 0 {
		p.GiveUpAfter = 5 * time.Minute
	}
	return p
}

// DeliverOption adjusts one Deliver call.
type DeliverOption func(*deliverOptions)

type deliverOptions struct {
	beforeRetry func(ctx context.Context, attempt int, last error) error
}

// BeforeRetry has Deliver call f right before each attempt after the first, once the wait is
// over: attempt is the number of the attempt about to be made (2, 3, ...), last the failure of
// the one before, and ctx the delivery's (its deadline is GiveUpAfter's). Use it to count
// retries, to show them, or to check that the caller may still send. When f returns an error,
// Deliver makes no further attempt and returns that error, wrapped, with the Thread so far.
func BeforeRetry(f func(ctx context.Context, attempt int, last error) error) DeliverOption {
	return func(o *deliverOptions) { o.beforeRetry = f }
}

// Deliver sends n through sender, retrying failures that may pass with jittered exponential
// backoff, and waiting as long as Slack asks when it rate-limits. It returns at once on a
// PermanentError (the error says what to fix), and with an error wrapping ErrGaveUp and the
// last failure when GiveUpAfter passes or ctx is done; it never blocks longer than that, since
// every attempt runs under the same deadline.
//
// The returned Thread is where the rollout's message lives (see Sender), also on error: record it.
func Deliver(ctx context.Context, sender Sender, n Notification, thread *Thread, policy RetryPolicy, opts ...DeliverOption) (*Thread, error) {
	policy = policy.withDefaults()
	var o deliverOptions
	for _, opt := range opts {
		opt(&o)
	}
	ctx, cancel := context.WithTimeout(ctx, policy.GiveUpAfter)
	defer cancel()

	start := time.Now()
	backoff := policy.Initial
	for attempt := 1; ; attempt++ {
		t, err := sender.Send(ctx, n, thread)
		if t != nil {
			thread = t
		}
		if err == nil {
			return thread, nil
		}
		if IsPermanent(err) {
			return thread, err
		}

		wait := jitter(backoff)
		backoff = min(2*backoff, policy.Max)
		var limited *slack.RateLimitedError
		if errors.As(err, &limited) && limited.RetryAfter > 0 {
			// Slack refuses anything sooner; a little jitter spreads out the notifiers that wait.
			wait = limited.RetryAfter + jitter(policy.Initial)/2
		}

		gaveUp := func(why string) error {
			return fmt.Errorf("notifiers: %w %s after %s in %s (%s): %w",
				ErrGaveUp, n.ID, attempts(attempt), time.Since(start).Round(time.Millisecond), why, err)
		}
		if ctx.Err() != nil {
			return thread, gaveUp(stopReason(ctx))
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return thread, gaveUp(fmt.Sprintf("the next attempt, in %s, would come after the deadline", wait.Round(time.Millisecond)))
		}

		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return thread, gaveUp(stopReason(ctx))
		case <-timer.C:
		}
		if o.beforeRetry != nil {
			if stop := o.beforeRetry(ctx, attempt+1, err); stop != nil {
				return thread, fmt.Errorf("notifiers: stopped delivering %s before attempt %d: %w", n.ID, attempt+1, stop)
			}
		}
	}
}

func attempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", n)
}

func stopReason(ctx context.Context) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return "out of time"
	}
	return "cancelled"
}

// jitter returns a duration in [d/2, d): attempts of many notifiers spread out instead of
// hitting a recovering Slack together.
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half)
}
