package controllers

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"fledge.dev/fledge/apis"
	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

func canaryAt(ns, name string, phase fledgev1alpha1.CanaryPhase, since time.Time) *fledgev1alpha1.Canary {
	c := &fledgev1alpha1.Canary{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	c.Status.Phase = phase
	if phase == fledgev1alpha1.PhaseQueued {
		c.Status.Queue = &fledgev1alpha1.QueueStatus{Since: metav1.NewTime(since)}
	}
	return c
}

// The cluster-wide cap goes to the oldest queued first, and one held back by its namespace's
// cap lets the next one by; what runs and waits is learnt from the cache after a restart.
func TestRolloutSlotsServeTheOldestFirstWithinBothCaps(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	running := canaryAt("shop", "cart", fledgev1alpha1.PhaseProgressing, t0)
	k8s := fake.NewClientBuilder().WithScheme(apis.NewScheme()).WithObjects(
		running,
		canaryAt("search", "index", fledgev1alpha1.PhasePromoting, t0),
		canaryAt("shop", "orders", fledgev1alpha1.PhaseQueued, t0.Add(time.Second)),
		canaryAt("blog", "posts", fledgev1alpha1.PhaseQueued, t0.Add(2*time.Second)),
		canaryAt("docs", "feed", fledgev1alpha1.PhaseQueued, t0.Add(3*time.Second)),
	).Build()
	s := newRolloutSlots(3, 1, k8s)
	get := func(ns, name string) *fledgev1alpha1.Canary {
		c := &fledgev1alpha1.Canary{}
		if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	mayStart := func(ns, name string) bool {
		t.Helper()
		why, err := s.acquire(ctx, get(ns, name), t0)
		if err != nil {
			t.Fatal(err)
		}
		return why == ""
	}

	// Two run, one slot is free: shop/orders is older, but shop already runs its one.
	if mayStart("docs", "feed") {
		t.Error("docs/feed started before blog/posts, queued earlier")
	}
	if mayStart("shop", "orders") {
		t.Error("shop/orders started past its namespace's cap")
	}
	if !mayStart("blog", "posts") {
		t.Error("blog/posts did not get the free slot")
	}
	if why, _ := s.acquire(ctx, get("docs", "feed"), t0); why == "" || why != s.why("docs") {
		t.Errorf("docs/feed: %q", why)
	}

	// shop/cart ends: its slot goes to shop/orders, the oldest queued.
	select {
	case <-s.wake:
		t.Fatal("a wake before any slot freed")
	default:
	}
	running.Status.Phase = fledgev1alpha1.PhaseSucceeded
	if err := s.settle(ctx, running); err != nil {
		t.Fatal(err)
	}
	woken := (<-s.wake).Object
	if woken.GetNamespace() != "shop" || woken.GetName() != "orders" {
		t.Errorf("woke %s/%s, want shop/orders", woken.GetNamespace(), woken.GetName())
	}
	if !mayStart("shop", "orders") || mayStart("docs", "feed") {
		t.Error("the freed slot did not go to shop/orders alone")
	}

	// A Canary that is gone gives its slot back.
	s.forget(types.NamespacedName{Namespace: "search", Name: "index"})
	if !mayStart("docs", "feed") {
		t.Error("docs/feed did not start once search/index was gone")
	}
	if len(s.running) != 3 || len(s.waiting) != 0 {
		t.Errorf("running %v, waiting %v", s.running, s.waiting)
	}
}

func TestNoCapIsNoGate(t *testing.T) {
	var s *rolloutSlots = newRolloutSlots(0, 0, fake.NewClientBuilder().Build())
	if s != nil {
		t.Fatal("a gate without a cap")
	}
	why, err := s.acquire(context.Background(), &fledgev1alpha1.Canary{}, time.Time{})
	if why != "" || err != nil {
		t.Errorf("no cap: %q %v", why, err)
	}
}
