package main

import (
	"github.com/spf13/cobra"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

func newRetryCommand(s *session) *cobra.Command {
	return newRequestCommand(s, requestCommand{
		use:     "retry NAME",
		short:   "Start the failed revision's rollout again from the first step",
		long:    `Start the rollout of the revision that failed again, from the first step. Only a canary in the phase Failed can be retried.`,
		example: `  kubectl fledge retry web`,
		action:  func() fledgev1alpha1.RequestAction { return fledgev1alpha1.RequestRetry },
	})
}
