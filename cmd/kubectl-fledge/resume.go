package main

import (
	"github.com/spf13/cobra"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

func newResumeCommand(s *session) *cobra.Command {
	return newRequestCommand(s, requestCommand{
		use:     "resume NAME",
		short:   "Let a paused rollout go on",
		long:    `Let a rollout held by "kubectl fledge pause" go on from its step.`,
		example: `  kubectl fledge resume web`,
		action:  func() fledgev1alpha1.RequestAction { return fledgev1alpha1.RequestResume },
	})
}
