package controllers_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers"
	"fledge.dev/fledge/controllers/rollout"
)

// mostRunning polls the Canaries of namespace and keeps the most that ran a rollout at once.
func mostRunning(ctx context.Context, namespace string) func() int {
	var mu sync.Mutex
	most := 0
	ctx, cancel := context.WithCancel(ctx)
	DeferCleanup(cancel)
	go func() {
		for ctx.Err() == nil {
			var list fledgev1alpha1.CanaryList
			if k8s.List(ctx, &list, client.InNamespace(namespace)) == nil {
				n := 0
				for _, c := range list.Items {
					if rollout.HoldsSlot(c.Status.Phase) {
						n++
					}
				}
				mu.Lock()
				most = max(most, n)
				mu.Unlock()
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return func() int {
		mu.Lock()
		defer mu.Unlock()
		return most
	}
}

var _ = Describe("a cap on simultaneous rollouts in a namespace", func() {
	It("queues the rollouts past it, oldest first, across a restart, and starts them as others end or go", func(ctx context.Context) {
		capped := func(o *controllers.Options) { o.MaxConcurrentRolloutsPerNamespace = 2 }
		manager.stop()
		manager = startManager(capped)
		DeferCleanup(func() {
			manager.stop()
			manager = startManager()
		})

		ns := newNamespace(ctx)
		var apps []*app
		for i := range 3 {
			apps = append(apps, newNamedAppIn(ctx, ns, fmt.Sprintf("web-%d", i+1), withInterval(time.Hour)))
		}
		most := mostRunning(ctx, ns)

		By("changing the three targets, a second apart")
		for _, a := range apps {
			a.setImage(ctx, "example.com/web:v2")
			time.Sleep(1100 * time.Millisecond) // the queue's order is to the second
		}
		apps[0].waitWeight(ctx, 20)
		apps[1].waitWeight(ctx, 20)
		queued := apps[2].waitPhase(ctx, fledgev1alpha1.PhaseQueued)
		Expect(queued.Status.Message).To(Equal("queued: namespace " + ns + " runs at most 2 rollouts at once (--max-concurrent-rollouts-per-namespace); this one starts when one of them ends"))
		Expect(queued.Status.Queue.After).To(Equal(fledgev1alpha1.PhaseInitialized))
		Expect(queued.Status.CanaryWeight).To(BeZero())
		Eventually(apps[2].eventReasons).WithContext(ctx).Should(ContainElement(fledgev1alpha1.ReasonQueued))
		var copyOf appsv1.Deployment
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web-3-canary"}, &copyOf); err == nil {
			Expect(copyOf.Spec.Replicas).To(HaveValue(BeZero()), "a queued revision runs no pod")
		} else {
			Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%v", err)
		}

		By("restarting the manager while a rollout waits")
		manager.stop()
		manager = startManager(capped)
		Consistently(func() fledgev1alpha1.CanaryPhase { return apps[2].get(ctx).Status.Phase }).
			WithContext(ctx).WithTimeout(2 * time.Second).Should(Equal(fledgev1alpha1.PhaseQueued))

		By("promoting the first: the queued one starts")
		Expect(apps[0].request(ctx, fledgev1alpha1.RequestPromote).Accepted).To(BeTrue())
		apps[0].waitPhase(ctx, fledgev1alpha1.PhaseSucceeded)
		apps[2].waitWeight(ctx, 20)
		Expect(apps[2].get(ctx).Status.Queue).To(BeNil())

		By("a new revision of the first queues again; deleting the second Canary gives it the slot")
		apps[0].setImage(ctx, "example.com/web:v3")
		apps[0].waitPhase(ctx, fledgev1alpha1.PhaseQueued)
		Expect(k8s.Delete(ctx, apps[1].get(ctx))).To(Succeed())
		apps[0].waitWeight(ctx, 20)

		Expect(most()).To(Equal(2), "never more than the cap at once, and the cap used")
	})
})
