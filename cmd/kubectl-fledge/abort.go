package main

import (
	"github.com/spf13/cobra"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

func newAbortCommand(s *session) *cobra.Command {
	return newRequestCommand(s, requestCommand{
		use:     "abort NAME",
		short:   "Abort the rollout: all traffic back to the primary",
		long:    `Abort the running rollout: all traffic goes back to the primary and the phase becomes Failed. The revision stays failed until "kubectl fledge retry" or a new revision.`,
		example: `  kubectl fledge abort web -n shop`,
		action:  func() fledgev1alpha1.RequestAction { return fledgev1alpha1.RequestAbort },
	})
}
