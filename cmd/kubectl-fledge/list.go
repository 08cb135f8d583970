package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/rollout"
)

// listMessageWidth is where list cuts the status message.
const listMessageWidth = 60

type listOptions struct {
	output        outputFormat
	allNamespaces bool
}

func newListCommand(s *session) *cobra.Command {
	o := &listOptions{}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List canaries: phase, weight, step, failed checks, last message and age",
		Example: `  kubectl fledge list
  kubectl fledge list -A
  kubectl fledge list -n shop -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.output.validate(); err != nil {
				return err
			}
			if err := s.connect(); err != nil {
				return err
			}
			return o.run(cmd.Context(), s)
		},
	}
	addOutputFlag(cmd, &o.output)
	cmd.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "list the canaries of every namespace")
	return cmd
}

func (o *listOptions) run(ctx context.Context, s *session) error {
	var list fledgev1alpha1.CanaryList
	var opts []client.ListOption
	where := "in namespace " + s.namespace
	if o.allNamespaces {
		where = "in any namespace"
	} else {
		opts = append(opts, client.InNamespace(s.namespace))
	}
	if err := s.client.List(ctx, &list, opts...); err != nil {
		if apiMissing(err) {
			return errCanaryAPIMissing
		}
		return fmt.Errorf("list canaries %s: %w", where, err)
	}
	sort.Slice(list.Items, func(i, j int) bool {
		a, b := list.Items[i], list.Items[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	if o.output != "" {
		return printObject(s.streams.Out, o.output, &list)
	}
	if len(list.Items) == 0 {
		if !o.allNamespaces {
			if missing := s.namespaceMissing(ctx); missing != nil {
				return missing
			}
		}
		fmt.Fprintf(s.streams.ErrOut, "No canaries found %s.\n", where)
		return nil
	}
	writeCanaryTable(s.streams.Out, styleFor(s.streams.Out), list.Items, o.allNamespaces, time.Now())
	return nil
}

// writeCanaryTable prints one line per canary. AGE comes last, so that the columns do not
// shift as canaries age.
func writeCanaryTable(w io.Writer, st style, canaries []fledgev1alpha1.Canary, withNamespace bool, now time.Time) {
	t := &table{}
	header := []string{"NAME", "PHASE", "WEIGHT", "STEP", "FAILED", "MESSAGE", "AGE"}
	if withNamespace {
		header = append([]string{"NAMESPACE"}, header...)
	}
	t.add(header...)
	for i := range canaries {
		c := &canaries[i]
		row := []string{
			c.Name,
			st.phase(string(c.Status.Phase)),
			fmt.Sprintf("%d%%", c.Status.CanaryWeight),
			stepCell(c),
			fmt.Sprintf("%d/%d", c.Status.FailedChecks, c.Spec.Analysis.FailureThreshold()),
			orDash(truncate(c.Status.Message, listMessageWidth)),
			age(c.CreationTimestamp.Time, now),
		}
		if withNamespace {
			row = append([]string{c.Namespace}, row...)
		}
		t.add(row...)
	}
	t.write(w, "")
}

// stepCell is "i/n" while a rollout steps through its plan, "-" otherwise.
func stepCell(c *fledgev1alpha1.Canary) string {
	if c.Status.Phase != fledgev1alpha1.PhaseProgressing || c.Status.StepIndex == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d", c.Status.StepIndex, len(rollout.Steps(c.Spec.Analysis)))
}

func orDash(text string) string {
	if text == "" {
		return "-"
	}
	return text
}
