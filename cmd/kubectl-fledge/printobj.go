package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// outputFormat is the -o flag of get and list: "" for the human view, json or yaml for the
// objects themselves.
type outputFormat string

func addOutputFlag(cmd *cobra.Command, format *outputFormat) {
	cmd.Flags().StringVarP((*string)(format), "output", "o", "", "print the objects instead of the view: json or yaml")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
}

func (f outputFormat) validate() error {
	switch f {
	case "", "json", "yaml":
		return nil
	}
	return fmt.Errorf("unknown output format %q: use json or yaml (or nothing for the view)", string(f))
}

// printObject prints a Canary or CanaryList as kubectl get -o json|yaml would: with its kind
// and apiVersion, without managed fields.
func printObject(w io.Writer, format outputFormat, obj runtime.Object) error {
	switch o := obj.(type) {
	case *fledgev1alpha1.Canary:
		o.SetGroupVersionKind(fledgev1alpha1.GroupVersion.WithKind("Canary"))
		o.ManagedFields = nil
	case *fledgev1alpha1.CanaryList:
		o.SetGroupVersionKind(fledgev1alpha1.GroupVersion.WithKind("CanaryList"))
		for i := range o.Items {
			o.Items[i].SetGroupVersionKind(fledgev1alpha1.GroupVersion.WithKind("Canary"))
			o.Items[i].ManagedFields = nil
		}
	}
	var data []byte
	var err error
	if format == "yaml" {
		data, err = yaml.Marshal(obj)
	} else {
		data, err = json.MarshalIndent(obj, "", "    ")
		data = append(data, '\n')
	}
	if err != nil {
		return fmt.Errorf("encode as %s: %w", format, err)
	}
	_, err = w.Write(data)
	return err
}
