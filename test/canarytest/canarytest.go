// Package canarytest holds what the Ginkgo suites do with a Canary on the test stack: read
// it, wait for a phase or a weight, release a new image of its target, list its events.
// The target Deployment has the Canary's name, as in every suite.
package canarytest

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2" //nolint:revive // the suites' own idiom
	. "github.com/onsi/gomega"    //nolint:revive // the suites' own idiom
	appsv1 "k8s.io/api/apps/v1"
	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// Get reads the Canary at key.
func Get(ctx context.Context, c client.Client, key client.ObjectKey) *fledgev1alpha1.Canary {
	GinkgoHelper()
	canary := &fledgev1alpha1.Canary{}
	Expect(c.Get(ctx, key, canary)).To(Succeed())
	return canary
}

// WaitPhase waits until the Canary at key is in phase, and returns it as it was then.
func WaitPhase(ctx context.Context, c client.Client, key client.ObjectKey, phase fledgev1alpha1.CanaryPhase) *fledgev1alpha1.Canary {
	GinkgoHelper()
	var canary *fledgev1alpha1.Canary
	Eventually(func(g Gomega) {
		canary = &fledgev1alpha1.Canary{}
		g.Expect(c.Get(ctx, key, canary)).To(Succeed())
		g.Expect(canary.Status.Phase).To(Equal(phase), "status: %s", canary.Status.Message)
	}).WithContext(ctx).WithTimeout(3 * time.Minute).WithPolling(100 * time.Millisecond).Should(Succeed())
	return canary
}

// WaitWeight waits until the Canary at key reports weight on the canary.
func WaitWeight(ctx context.Context, c client.Client, key client.ObjectKey, weight int32) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		canary := &fledgev1alpha1.Canary{}
		g.Expect(c.Get(ctx, key, canary)).To(Succeed())
		g.Expect(canary.Status.CanaryWeight).To(Equal(weight))
	}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(50 * time.Millisecond).Should(Succeed())
}

// SetImage changes the image of the first container of the Deployment at key, which starts
// a rollout; it retries on conflicts with the controllers that write the Deployment too.
func SetImage(ctx context.Context, c client.Client, key client.ObjectKey, image string) {
	GinkgoHelper()
	Eventually(func() error {
		d := &appsv1.Deployment{}
		if err := c.Get(ctx, key, d); err != nil {
			return err
		}
		d.Spec.Template.Spec.Containers[0].Image = image
		return c.Update(ctx, d)
	}).WithContext(ctx).WithTimeout(30 * time.Second).Should(Succeed())
}

// EventReasons lists the reasons of the events about the Canary at key, oldest first.
func EventReasons(ctx context.Context, c client.Client, key client.ObjectKey) []string {
	GinkgoHelper()
	var list eventsv1.EventList
	Expect(c.List(ctx, &list, client.InNamespace(key.Namespace))).To(Succeed())
	var reasons []string
	for _, e := range list.Items {
		if e.Regarding.Kind == "Canary" && e.Regarding.Name == key.Name {
			reasons = append(reasons, e.Reason)
		}
	}
	return reasons
}
