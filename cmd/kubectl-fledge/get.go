package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

type getOptions struct {
	output  outputFormat
	watch   bool
	timeout time.Duration

	// shown identifies what was drawn last (versions of the canary and its events), so that
	// a wake-up that changed nothing draws nothing.
	shown string
}

func newGetCommand(s *session) *cobra.Command {
	o := &getOptions{}
	cmd := &cobra.Command{
		Use:   "get NAME",
		Short: "Show a canary: phase, step, traffic split, checks, conditions and recent events",
		Long: `Show a canary: its phase, the step of the rollout, how traffic is split between the
primary and the canary, the failed checks against the threshold, the last value of each
metric against the range that passes (✓ pass, ✗ fail, … no verdict), its conditions and
its last events.

With --watch the view is drawn again at each change (through a watch, not by polling),
and the command ends when the rollout it saw ends: with status 0 when it succeeded, 1 when
it failed (2 when --timeout passes first).`,
		Example: `  kubectl fledge get web
  kubectl fledge get web -n shop --watch
  kubectl fledge get web -o yaml`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeCanaryNames(s),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.output.validate(); err != nil {
				return err
			}
			if err := s.connect(); err != nil {
				return err
			}
			return o.run(cmd.Context(), s, args[0])
		},
	}
	addOutputFlag(cmd, &o.output)
	cmd.Flags().BoolVarP(&o.watch, "watch", "w", false, "draw again at each change, until the rollout ends")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 0, "with --watch, give up after this long (0: no limit)")
	return cmd
}

func (o *getOptions) run(ctx context.Context, s *session, name string) error {
	canary, err := s.getCanary(ctx, name)
	if err != nil {
		return err
	}
	out := s.streams.Out
	st := styleFor(out)
	if err := o.show(ctx, s, canary, out, st, false); err != nil || !o.watch {
		return err
	}
	return o.follow(ctx, s, canary, out, st)
}

// follow draws the canary again at each change of it or of its events, and ends when a
// rollout ends: one that ran when the watch started, or one that started since.
func (o *getOptions) follow(ctx context.Context, s *session, start *fledgev1alpha1.Canary, out io.Writer, st style) error {
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()

	tracker := newRolloutTracker(start)
	latest := start
	changes := make(chan *fledgev1alpha1.Canary)
	watchDone := make(chan error, 1)
	go func() {
		watchDone <- s.followCanary(ctx, start, func(c *fledgev1alpha1.Canary) (bool, error) {
			select {
			case changes <- c:
				return false, nil
			case <-ctx.Done():
				return true, nil
			}
		})
	}()
	eventChanges := s.watchEventsOf(ctx, start)

	for {
		select {
		case c := <-changes:
			latest = c
		case <-eventChanges:
		case err := <-watchDone:
			if ctx.Err() != nil {
				return timedOut(o.timeout, start)
			}
			return err
		case <-ctx.Done():
			return timedOut(o.timeout, start)
		}
		if err := o.show(ctx, s, latest, out, st, true); err != nil {
			return err
		}
		if ended, phase := tracker.ended(latest); ended {
			return rolloutResult(out, st, latest, phase)
		}
	}
}

// show prints the canary: the view with its events, or the object. Again, it prints only
// what changed since the last time.
func (o *getOptions) show(ctx context.Context, s *session, canary *fledgev1alpha1.Canary, out io.Writer, st style, again bool) error {
	if o.output != "" {
		if again && o.shown == canary.ResourceVersion {
			return nil
		}
		o.shown = canary.ResourceVersion
		if again && o.output == "yaml" {
			fmt.Fprintln(out, "---")
		}
		return printObject(out, o.output, canary.DeepCopy())
	}
	events, readable, err := s.eventsOf(ctx, canary)
	if err != nil {
		return fmt.Errorf("list the events of canary %s: %w", canary.Name, err)
	}
	versions := []string{canary.ResourceVersion}
	for _, e := range events {
		versions = append(versions, e.ResourceVersion)
	}
	shown := strings.Join(versions, ",")
	if again && shown == o.shown {
		return nil
	}
	o.shown = shown
	switch {
	case again && st.terminal:
		fmt.Fprint(out, "\x1b[H\x1b[2J") // draw over the previous view
	case again:
		fmt.Fprintln(out)
	}
	canaryView{canary: canary, events: events, eventsHidden: !readable, now: time.Now(), style: st}.write(out)
	return nil
}
