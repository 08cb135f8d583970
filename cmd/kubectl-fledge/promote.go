package main

import (
	"github.com/spf13/cobra"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

func newPromoteCommand(s *session) *cobra.Command {
	var step bool
	cmd := newRequestCommand(s, requestCommand{
		use:   "promote NAME",
		short: "Promote the canary now, skipping the remaining steps (--step: advance one step)",
		long: `Promote the canary now: all traffic goes to the canary while the primary takes its
revision, skipping the remaining steps and checks. With --step, advance one step instead,
without waiting for the interval or the checks.`,
		example: `  kubectl fledge promote web
  kubectl fledge promote web --step`,
		action: func() fledgev1alpha1.RequestAction {
			if step {
				return fledgev1alpha1.RequestPromoteStep
			}
			return fledgev1alpha1.RequestPromote
		},
	})
	cmd.Flags().BoolVar(&step, "step", false, "advance one step instead of promoting")
	return cmd
}
