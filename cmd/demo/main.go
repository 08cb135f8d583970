// Command demo shows Fledge at work on a local stack: a real control plane with kwok nodes,
// the mesh simulator, Prometheus and the Fledge manager. It rolls out a good version, which is
// promoted step by step, and a bad one, which is aborted back to the primary.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

func main() {
	var opts options
	flag.StringVar(&opts.manager, "manager", "bin/fledge-manager", "The Fledge manager binary to run.")
	flag.DurationVar(&opts.interval, "interval", 5*time.Second, "Analysis interval of the demo Canary (one traffic step per interval).")
	flag.BoolVar(&opts.keep, "keep", false, "Keep the stack running after the demo and print the KUBECONFIG to explore it; Ctrl-C ends it.")
	flag.Parse()
	// The libraries log through controller-runtime; the demo prints its own story.
	ctrllog.SetLogger(logr.Discard())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	err := run(ctx, opts)
	switch {
	case errors.Is(err, context.Canceled):
		fmt.Println("\nInterrupted; everything was stopped.")
	case err != nil:
		fmt.Fprintln(os.Stderr, "\ndemo failed:", err)
		os.Exit(1)
	default:
		fmt.Printf("\nThe demo took %s; every process it started is stopped.\n", time.Since(start).Round(time.Second))
	}
}

type options struct {
	manager  string
	interval time.Duration
	keep     bool
}
