package main

import (
	"github.com/spf13/cobra"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// requestCommand describes a command that sends one manual request.
type requestCommand struct {
	use, short, long, example string
	// action is read when the command runs, after its flags are parsed.
	action func() fledgev1alpha1.RequestAction
}

// requestHelp is what every steering command's help says of how it works.
const requestHelp = `

The request is written into status.request through the status subresource (your account
needs "patch" on canaries/status); the command then waits for Fledge to handle it and
prints the outcome. It exits with status 1 when Fledge refuses the request (for example
when no rollout runs), and says why.`

func newRequestCommand(s *session, rc requestCommand) *cobra.Command {
	timeout := defaultRequestTimeout
	cmd := &cobra.Command{
		Use:               rc.use,
		Short:             rc.short,
		Long:              rc.long + requestHelp,
		Example:           rc.example,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeCanaryNames(s),
		RunE: func(cmd *cobra.Command, args []string) error {
			return s.sendRequest(cmd.Context(), args[0], rc.action(), timeout)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", timeout, "how long to wait for Fledge to handle the request")
	return cmd
}
