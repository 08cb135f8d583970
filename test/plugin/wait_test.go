package plugin_test

import (
	"context"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"fledge.dev/fledge/analysis"
	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

var _ = Describe("waiting for a rollout", func() {
	// status and get --watch run side by side on the same rollout, through kubectl.
	watchBoth := func(ctx context.Context, a *app) (status, watch result) {
		GinkgoHelper()
		done := make(chan result, 1)
		go func() {
			defer GinkgoRecover()
			done <- kubectl(ctx, "fledge", "get", "web", "--watch", "--timeout", "2m", "-n", a.ns)
		}()
		status = kubectl(ctx, "fledge", "status", "web", "--timeout", "2m", "-n", a.ns)
		Eventually(done).WithTimeout(2 * time.Minute).Should(Receive(&watch))
		return status, watch
	}

	It("ends with status 0 when the rollout succeeds", func(ctx context.Context) {
		// status must be reading before step 3 to print step 2: steps two seconds apart leave
		// room for kubectl and the plugin to start on a busy machine.
		a := newApp(ctx, newNamespace(ctx, ""), "web", withInterval(2*time.Second))
		a.setImage(ctx, "example.com/web:v2")
		a.waitPhase(ctx, fledgev1alpha1.PhaseProgressing)

		status, watch := watchBoth(ctx, a)
		Expect(status.exitCode).To(Equal(0), status.stderr)
		Expect(status.stdout).To(ContainSubstring(`Waiting for canary "web" rollout to finish: step 2 of 4, canary weight 40%, 0 of 3 checks failed...`))
		Expect(lastLine(status.stdout)).To(MatchRegexp(`^canary web: rollout succeeded: revision \w+ was promoted; the primary serves all traffic$`))

		Expect(watch.exitCode).To(Equal(0), watch.stderr)
		Expect(strings.Count(watch.stdout, "Name:")).To(BeNumerically(">", 2), "the view was drawn at each change")
		Expect(watch.stdout).To(ContainSubstring("Progressing, step 3 of 4"))
		Expect(lastLine(watch.stdout)).To(HavePrefix("canary web: rollout succeeded: "))
	})

	It("ends with status 1 when the rollout fails", func(ctx context.Context) {
		ns := newNamespace(ctx, "")
		checks.script(ns, "web", analysis.Result{Verdict: analysis.Fail, Message: "request-success-rate 91 is below 99"})
		a := newApp(ctx, ns, "web", withThreshold(2))
		a.setImage(ctx, "example.com/web:v2")
		a.waitPhase(ctx, fledgev1alpha1.PhaseProgressing)

		status, watch := watchBoth(ctx, a)
		Expect(status.exitCode).To(Equal(1), status.stderr)
		Expect(lastLine(status.stdout)).To(Equal("canary web: rollout failed: aborted: 2 of 2 checks failed; last: request-success-rate 91 is below 99"))
		Expect(watch.exitCode).To(Equal(1), watch.stderr)
		Expect(lastLine(watch.stdout)).To(HavePrefix("canary web: rollout failed: "))

		// Once it has ended, status reports the failure at once.
		again := kubectl(ctx, "fledge", "status", "web", "-n", ns)
		Expect(again.exitCode).To(Equal(1))
		Expect(again.took).To(BeNumerically("<", 10*time.Second))
	})

	It("ends with status 2 when --timeout passes first", func(ctx context.Context) {
		a := newApp(ctx, newNamespace(ctx, ""), "web", withInterval(time.Hour))
		a.startRollout(ctx, "example.com/web:v2")

		r := kubectl(ctx, "fledge", "status", "web", "--timeout", "2s", "-n", a.ns)
		Expect(r.exitCode).To(Equal(2))
		Expect(r.stdout).To(Equal(`Waiting for canary "web" rollout to finish: step 1 of 4, canary weight 20%, 0 of 3 checks failed...` + "\n"))
		Expect(r.stderr).To(Equal("error: timed out after 2s waiting for the rollout of canary web in namespace " + a.ns + " to end\n"))

		r = kubectl(ctx, "fledge", "get", "web", "--watch", "--timeout", "2s", "-n", a.ns)
		Expect(r.exitCode).To(Equal(2))
	})

	It("reports at once when no rollout has run yet", func(ctx context.Context) {
		a := newApp(ctx, newNamespace(ctx, ""), "web")
		r := kubectl(ctx, "fledge", "status", "web", "-n", a.ns)
		Expect(r.exitCode).To(Equal(0))
		Expect(r.stdout).To(Equal("canary web: no rollout has run yet: the primary serves all traffic\n"))
	})
})

func lastLine(text string) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	return lines[len(lines)-1]
}
