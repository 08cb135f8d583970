package main

import (
	"github.com/spf13/cobra"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

func newPauseCommand(s *session) *cobra.Command {
	return newRequestCommand(s, requestCommand{
		use:     "pause NAME",
		short:   "Hold the rollout at its current step until resumed",
		long:    `Hold the rollout at its current step: traffic stays where it is and no check runs until "kubectl fledge resume". A pause sent while no rollout runs holds the next one before its first step.`,
		example: `  kubectl fledge pause web`,
		action:  func() fledgev1alpha1.RequestAction { return fledgev1alpha1.RequestPause },
	})
}
