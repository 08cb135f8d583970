package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/alerts"
	"fledge.dev/fledge/test/fakeslack"
)

var _ = Describe("an AlertProvider that hangs", func() {
	It("holds back its own messages only, in at most its share of the workers: the Canaries' other provider hears each of them within seconds", func(ctx context.Context) {
		// More Canaries on the hanging webhook than a provider may hold workers, each also
		// telling a healthy webhook.
		const canaries = 5
		Expect(canaries).To(BeNumerically(">", alerts.DefaultPerProviderWorkers))
		hanging := startSilentServer()
		DeferCleanup(hanging.close)
		healthy := startWebhook()
		ns := newNamespace(ctx)
		createWebhookProvider(ctx, ns, "stuck", hanging.url()+"/hook")
		createWebhookProvider(ctx, ns, "healthy", healthy.URL())
		var apps []*app
		for i := range canaries {
			apps = append(apps, newNamedAppIn(ctx, ns, fmt.Sprintf("web-%d", i+1),
				withInterval(time.Hour), withAlerts(alertTo("stuck", "info"), alertTo("healthy", "info"))))
		}

		By("starting every rollout: each one's first notification goes to both providers")
		started := time.Now()
		for _, a := range apps {
			a.setImage(ctx, "example.com/web:v2")
		}

		By("hearing every rollout on the healthy provider within seconds, while the hanging one still holds its sends")
		Eventually(func() []string { return startedRollouts(healthy.Posts()) }).WithContext(ctx).
			WithTimeout(10*time.Second).WithPolling(100*time.Millisecond).
			Should(HaveLen(canaries), "each Canary's first notification on the healthy provider")
		GinkgoWriter.Printf("the healthy provider heard %d rollouts %s after they started\n", canaries, time.Since(started).Round(time.Millisecond))
		open, _ := hanging.connections()
		Expect(open).To(BeNumerically(">", 0), "the hanging webhook holds no send: the healthy one was not heard while it hung")
		for _, a := range apps {
			c := a.get(ctx)
			Expect(deliveredTo(c, ns+"/stuck")).To(BeZero(), "%s: nothing delivered through the hanging webhook", a.name)
		}

		By("holding no more of the workers than the hanging provider's share, until its calls time out")
		Consistently(func() int { _, most := hanging.connections(); return most }).WithContext(ctx).
			WithTimeout(3 * time.Second).Should(BeNumerically("<=", alerts.DefaultPerProviderWorkers))
	})
})

// startedRollouts names the Canaries whose rollout start a webhook was told of.
func startedRollouts(posts []fakeslack.WebhookPost) []string {
	var out []string
	for _, h := range headers(posts) {
		if strings.Contains(h, "rollout started") {
			out = append(out, h)
		}
	}
	return out
}

// deliveredTo is the last notification provider (namespace/name) has dealt with for c.
func deliveredTo(c *fledgev1alpha1.Canary, provider string) int64 {
	if c.Status.Notifications == nil {
		return 0
	}
	for _, p := range c.Status.Notifications.Providers {
		if p.Provider == provider {
			return p.Seq
		}
	}
	return 0
}
