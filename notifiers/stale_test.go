package notifiers

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"fledge.dev/fledge/test/fakeslack"
)

// A leader frozen between its check and its post, past its lease, posts once it wakes; the
// post is taken back, so that the message of the leader that took over is the only one.
func TestBotTakesBackAPostMadeAfterItMayNoLongerSpeak(t *testing.T) {
	fake := fakeslack.New(t)
	lostLease := errors.New("the lease was last renewed too long ago")
	var stale atomic.Bool
	bot := newBot(t, fake, BotConfig{StillAllowed: func(context.Context) error {
		if stale.Load() {
			return lostLease
		}
		return nil
	}})

	thread := send(t, bot, note(Started, "n1"), nil)
	stale.Store(true)
	if _, err := bot.Send(context.Background(), note(Promoted, "n2"), thread); !errors.Is(err, lostLease) {
		t.Fatalf("a reply after the lease was lost: error %v, want one that says why", err)
	}
	if replies := fake.Replies(thread.TS); len(replies) != 0 {
		t.Errorf("%d replies left in the thread, want the stale one taken back", len(replies))
	}

	next := note(Started, "n3")
	next.RolloutID = "payments/api/r-2" // a new rollout: a new message
	if got, err := bot.Send(context.Background(), next, nil); !errors.Is(err, lostLease) || got != nil {
		t.Fatalf("a rollout message after the lease was lost: thread %+v, error %v", got, err)
	}
	if top := fake.TopLevel(); len(top) != 1 || top[0].TS != thread.TS {
		t.Errorf("top-level messages %+v, want only the first", top)
	}
}
