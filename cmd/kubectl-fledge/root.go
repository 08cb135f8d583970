package main

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func newRootCommand(streams genericiooptions.IOStreams) *cobra.Command {
	flags := genericclioptions.NewConfigFlags(true)
	s := &session{flags: flags, streams: streams}
	root := &cobra.Command{
		// kubectl shows plugins as "kubectl fledge"; the annotation makes cobra's help and
		// completion scripts say so too.
		Use:   "kubectl-fledge",
		Short: "See and steer Fledge canary rollouts",
		Long: `See and steer Fledge canary rollouts.

Commands that steer a rollout (promote, abort, pause, resume, retry) write status.request
through the status subresource: your account needs "patch" on canaries/status. The others
only read canaries and their events.`,
		Annotations: map[string]string{
			cobra.CommandDisplayNameAnnotation: "kubectl fledge",
		},
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	flags.AddFlags(root.PersistentFlags())
	registerFlagCompletions(root, s)

	root.AddCommand(
		newGetCommand(s),
		newListCommand(s),
		newStatusCommand(s),
		newHistoryCommand(s),
		newPromoteCommand(s),
		newAbortCommand(s),
		newPauseCommand(s),
		newResumeCommand(s),
		newRetryCommand(s),
	)
	return root
}
