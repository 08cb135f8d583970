package plugin_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"fledge.dev/fledge/analysis"
	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// goldenNamespace is fixed, so that it shows in the golden files as it is.
const goldenNamespace = "plugin-golden"

var _ = Describe("what get, list and history show", Ordered, func() {
	// web holds at step 1 (interval of an hour); checkout failed its checks and was aborted,
	// with metric values in its status.
	BeforeAll(func(ctx context.Context) {
		newNamespace(ctx, goldenNamespace)
		web := newApp(ctx, goldenNamespace, "web", withInterval(time.Hour))
		web.startRollout(ctx, "example.com/web:v2")

		checks.script(goldenNamespace, "checkout", analysis.Result{
			Verdict: analysis.Fail,
			Message: "request-duration 812.5 is above the maximum 500",
			Metrics: []fledgev1alpha1.MetricStatus{
				{Name: "request-success-rate", Verdict: "Pass", Value: ptrTo(99.52), PrimaryValue: ptrTo(99.61), Requests: ptrTo[int64](1200)},
				{Name: "request-duration", Verdict: "Fail", Value: ptrTo(812.5), PrimaryValue: ptrTo(402.25), Message: "above the maximum 500"},
			},
		})
		checkout := newApp(ctx, goldenNamespace, "checkout", withThreshold(2), withMetrics(
			fledgev1alpha1.CanaryMetric{Name: "request-success-rate", Builtin: "request-success-rate",
				ThresholdRange: &fledgev1alpha1.ThresholdRange{Min: ptrTo(99.0)}},
			fledgev1alpha1.CanaryMetric{Name: "request-duration", Builtin: "request-duration",
				ThresholdRange:   &fledgev1alpha1.ThresholdRange{Max: ptrTo(500.0)},
				CompareToPrimary: &fledgev1alpha1.PrimaryComparison{MaxIncreasePercent: ptrTo(20.0)}},
		))
		checkout.setImage(ctx, "example.com/checkout:v2")
		checkout.waitPhase(ctx, fledgev1alpha1.PhaseFailed)

		// Events reach the API server a little after the status: wait for the last of each.
		waitForEvent(ctx, web, "Advanced")
		waitForEvent(ctx, checkout, "Aborted")
	})

	It("get shows a rollout in progress", func(ctx context.Context) {
		r := kubectl(ctx, "fledge", "get", "web", "-n", goldenNamespace)
		Expect(r.exitCode).To(Equal(0), r.stderr)
		expectGolden("get-progressing.txt", r.stdout, inlineAges)
	})

	It("get shows a failed rollout with its metrics against their ranges", func(ctx context.Context) {
		r := kubectl(ctx, "fledge", "get", "checkout", "-n", goldenNamespace)
		Expect(r.exitCode).To(Equal(0), r.stderr)
		expectGolden("get-failed.txt", r.stdout, inlineAges)
	})

	It("list shows one line per canary", func(ctx context.Context) {
		r := kubectl(ctx, "fledge", "list", "-n", goldenNamespace)
		Expect(r.exitCode).To(Equal(0), r.stderr)
		expectGolden("list.txt", r.stdout, ageColumn)
	})

	It("list -A adds the namespace", func(ctx context.Context) {
		r := kubectl(ctx, "fledge", "list", "-A")
		Expect(r.exitCode).To(Equal(0), r.stderr)
		Expect(r.stdout).To(HavePrefix("NAMESPACE "))
		Expect(r.stdout).To(MatchRegexp(`(?m)^plugin-golden\s+checkout\s+Failed\s+0%\s+-\s+2/2\s`))
		Expect(r.stdout).To(MatchRegexp(`(?m)^plugin-golden\s+web\s+Progressing\s+20%\s+1/4\s+0/3\s`))
	})

	It("history tells the failed rollout and why", func(ctx context.Context) {
		r := kubectl(ctx, "fledge", "history", "checkout", "-n", goldenNamespace)
		Expect(r.exitCode).To(Equal(0), r.stderr)
		expectGolden("history.txt", r.stdout, ageColumns)
	})

	It("-o json and -o yaml print the objects", func(ctx context.Context) {
		r := kubectl(ctx, "fledge", "list", "-n", goldenNamespace, "-o", "json")
		Expect(r.exitCode).To(Equal(0), r.stderr)
		var list fledgev1alpha1.CanaryList
		Expect(json.Unmarshal([]byte(r.stdout), &list)).To(Succeed())
		Expect(list.Kind).To(Equal("CanaryList"))
		Expect(list.Items).To(HaveLen(2))
		Expect(list.Items[0].Status.Phase).To(Equal(fledgev1alpha1.PhaseFailed))

		r = kubectl(ctx, "fledge", "get", "web", "-n", goldenNamespace, "-o", "yaml")
		Expect(r.exitCode).To(Equal(0), r.stderr)
		var canary fledgev1alpha1.Canary
		Expect(yaml.UnmarshalStrict([]byte(r.stdout), &canary)).To(Succeed())
		Expect(canary.APIVersion).To(Equal("fledge.dev/v1alpha1"))
		Expect(canary.Status.CanaryWeight).To(Equal(int32(20)))
		Expect(canary.ManagedFields).To(BeEmpty())
	})
})

// waitForEvent waits until an event with reason about the app's canary exists.
func waitForEvent(ctx context.Context, a *app, reason string) {
	GinkgoHelper()
	Eventually(func(g Gomega) []string {
		var list corev1.EventList
		g.Expect(k8s.List(ctx, &list, client.InNamespace(a.ns))).To(Succeed())
		var reasons []string
		for _, e := range list.Items {
			if e.InvolvedObject.Kind == "Canary" && e.InvolvedObject.Name == a.name {
				reasons = append(reasons, e.Reason)
			}
		}
		return reasons
	}).WithContext(ctx).WithTimeout(30 * time.Second).Should(ContainElement(reason))
}

// What changes from run to run: ages, the rollout ids (a revision and a Unix time) and the
// revisions (hashes of the pod template: stable, but they would change with the API server's
// defaults). The revision's stand-in is as wide as a revision, so that columns stay aligned.
var (
	agoPattern      = regexp.MustCompile(`\b(\d+[smhdy])+ ago\b`)
	seriesPattern   = regexp.MustCompile(`\(\d+ times, last <age> ago\)`)
	rolloutIDTime   = regexp.MustCompile(`-\d{10}\b`)
	revisionPattern = regexp.MustCompile(`\b[0-9a-f]{12}\b`)
	// In list, AGE is the last column; in history, TOOK follows STARTED.
	ageAtEndPattern = regexp.MustCompile(`(?m)\b(\d+[smhdy])+$`)
	tookPattern     = regexp.MustCompile(`(<age> ago +)(\d+[smhdy])+\b`)
	spaces          = regexp.MustCompile(`  +`)
)

// normalisation is how a golden file's output is made stable.
type normalisation int

const (
	// inlineAges: ages only stand at the ends of lines, where they shift nothing.
	inlineAges normalisation = iota
	// ageColumn: the last column is an age (list).
	ageColumn
	// ageColumns: ages stand in the middle of a table (history); the widths of the columns
	// after them vary, so runs of spaces are made two.
	ageColumns
)

func normalise(out string, how normalisation) string {
	out = agoPattern.ReplaceAllString(out, "<age> ago")
	out = seriesPattern.ReplaceAllString(out, "(<age> ago)")
	out = rolloutIDTime.ReplaceAllString(out, "-<unix-time>")
	out = revisionPattern.ReplaceAllString(out, "<revision-->")
	switch how {
	case ageColumn:
		out = ageAtEndPattern.ReplaceAllString(out, "<age>")
	case ageColumns:
		out = tookPattern.ReplaceAllString(out, "${1}<took>")
		out = spaces.ReplaceAllString(out, "  ")
	}
	return out
}

// expectGolden compares output, normalised, with testdata/name; -update rewrites the file.
func expectGolden(name, output string, how normalisation) {
	GinkgoHelper()
	path := filepath.Join("testdata", name)
	got := normalise(output, how)
	if *update {
		Expect(os.WriteFile(path, []byte(got), 0o644)).To(Succeed())
		return
	}
	want, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred(), "no golden file: run go test ./test/plugin -update")
	Expect(got).To(Equal(string(want)), "the output differs from %s (run with -update to accept it)", path)
}
