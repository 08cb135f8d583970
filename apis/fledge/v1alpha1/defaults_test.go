package v1alpha1_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"sigs.k8s.io/yaml"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// TestDefaultsMatchTheSchema holds the defaults the code applies to the ones the API server
// applies (the kubebuilder markers, as generated into the CRD): a spec built in Go behaves as
// one that passed admission.
func TestDefaultsMatchTheSchema(t *testing.T) {
	data, err := os.ReadFile("../../../config/crd/bases/fledge.dev_canaries.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var crd struct {
		Spec struct {
			Versions []struct {
				Schema struct {
					OpenAPIV3Schema json.RawMessage `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(data, &crd); err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(crd.Spec.Versions[0].Schema.OpenAPIV3Schema, &schema); err != nil {
		t.Fatal(err)
	}
	defaultAt := func(path string) any {
		node := schema
		for _, p := range strings.Split(path, ".") {
			props, _ := node["properties"].(map[string]any)
			next, ok := props[p].(map[string]any)
			if !ok {
				t.Fatalf("the CRD has no field %s", path)
			}
			node = next
		}
		return node["default"]
	}
	duration := func(v any) time.Duration {
		d, err := time.ParseDuration(v.(string))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	for _, c := range []struct {
		path string
		got  any
		want any
	}{
		{"spec.analysis.interval", duration(defaultAt("spec.analysis.interval")), fledgev1alpha1.DefaultInterval},
		{"spec.analysis.threshold", defaultAt("spec.analysis.threshold"), float64(fledgev1alpha1.DefaultThreshold)},
		{"spec.progressDeadlineSeconds", defaultAt("spec.progressDeadlineSeconds"), float64(fledgev1alpha1.DefaultProgressDeadlineSeconds)},
		{"spec.scaleDownDelaySeconds", defaultAt("spec.scaleDownDelaySeconds"), float64(fledgev1alpha1.DefaultScaleDownDelaySeconds)},
		{"spec.analysis.sessionAffinity.cookieName", defaultAt("spec.analysis.sessionAffinity.cookieName"), fledgev1alpha1.DefaultSessionCookie},
		{"spec.analysis.sessionAffinity.maxAge", duration(defaultAt("spec.analysis.sessionAffinity.maxAge")), fledgev1alpha1.DefaultSessionMaxAge},
		{"spec.analysis.mirror.percentage", defaultAt("spec.analysis.mirror.percentage"), float64(fledgev1alpha1.DefaultMirrorPercentage)},
	} {
		if c.got != c.want {
			t.Errorf("%s: the CRD defaults to %v, the code to %v", c.path, c.got, c.want)
		}
	}
}

func TestTheDefaultsApplyToASpecBuiltInGo(t *testing.T) {
	var spec fledgev1alpha1.CanarySpec
	if got := spec.Analysis.StepInterval(); got != fledgev1alpha1.DefaultInterval {
		t.Errorf("interval: %v", got)
	}
	if got := spec.Analysis.FailureThreshold(); got != fledgev1alpha1.DefaultThreshold {
		t.Errorf("threshold: %v", got)
	}
	if got := spec.ProgressDeadline(); got != 600*time.Second {
		t.Errorf("progress deadline: %v", got)
	}
}

func TestARolloutTransitionIsToldInTheRolloutsMessage(t *testing.T) {
	for _, c := range []struct {
		reason string
		phase  fledgev1alpha1.CanaryPhase
		want   bool
	}{
		{fledgev1alpha1.ReasonAdvanced, fledgev1alpha1.PhaseProgressing, true},
		{fledgev1alpha1.ReasonAborted, fledgev1alpha1.PhaseFailed, true},
		{fledgev1alpha1.ReasonInitialized, fledgev1alpha1.PhaseInitialized, false},
		{fledgev1alpha1.ReasonReplicasAdjusted, fledgev1alpha1.PhaseProgressing, false},
		{fledgev1alpha1.ReasonRequestRejected, fledgev1alpha1.PhaseProgressing, true},
		{fledgev1alpha1.ReasonRequestRejected, fledgev1alpha1.PhaseSucceeded, false},
	} {
		if got := fledgev1alpha1.IsRolloutTransition(c.reason, c.phase); got != c.want {
			t.Errorf("%s in %s: %v, want %v", c.reason, c.phase, got, c.want)
		}
	}
}

func TestBoundCutsOnACharacterAndSaysSo(t *testing.T) {
	if got := fledgev1alpha1.Bound("short", 10); got != "short" {
		t.Errorf("a short message changed: %q", got)
	}
	long := strings.Repeat("é", 100) // 200 bytes
	got := fledgev1alpha1.Bound(long, 51)
	if len(got) > 51 || !strings.HasSuffix(got, " …") || !utf8.ValidString(got) {
		t.Errorf("Bound = %q (%d bytes)", got, len(got))
	}
	if got := fledgev1alpha1.Bound(long, 2); len(got) > 2 {
		t.Errorf("Bound to 2 bytes = %q", got)
	}
}
