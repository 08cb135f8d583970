// Command kubectl-fledge is the kubectl plugin for Fledge canaries: `kubectl fledge get web`,
// `kubectl fledge promote web`, and so on. kubectl finds it on PATH by its name.
package main

import (
	"errors"
	"fmt"
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	err := newRootCommand(streams).Execute()
	os.Exit(exitCode(err, streams))
}

// exitCode prints err the way kubectl does and turns it into the process's exit status.
func exitCode(err error, streams genericiooptions.IOStreams) int {
	if err == nil {
		return 0
	}
	var exit *exitError
	if errors.As(err, &exit) {
		if exit.message != "" {
			fmt.Fprintln(streams.ErrOut, exit.message)
		}
		return exit.code
	}
	fmt.Fprintln(streams.ErrOut, "error: "+err.Error())
	return 1
}

// exitError ends the command with a given status; message, when set, goes to stderr as it is.
type exitError struct {
	code    int
	message string
}

func (e *exitError) Error() string {
	if e.message != "" {
		return e.message
	}
	return fmt.Sprintf("exit status %d", e.code)
}

// Exit statuses of the commands that wait for a rollout (status, get --watch).
const (
	exitSucceeded = 0
	exitFailed    = 1
	exitTimedOut  = 2
)
