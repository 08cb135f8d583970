package chaos_test

import (
	"context"
	"fmt"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/workload"
)

// state is what one write left of a Canary's status.
type state struct {
	RolloutID string
	Phase     fledgev1alpha1.CanaryPhase
	Step      int32
	Weight    int32
}

// recorder keeps, from watches that resume where they stopped (RetryWatcher), every write to
// the VirtualServices and Canaries of the suite and to the leader Lease.
type recorder struct {
	mu sync.Mutex
	// weights are the canary weights each VirtualService took, in order (one per write that
	// changed it).
	weights map[string][]int32
	// states are the distinct statuses each Canary took, in order.
	states map[string][]state
	// holders are the identities that held the leader Lease, in order.
	holders []string
	// broken says why a watch stopped, if one did: the record would be partial.
	broken error
}

func startRecorder(ctx context.Context) *recorder {
	GinkgoHelper()
	r := &recorder{weights: map[string][]int32{}, states: map[string][]state{}}
	istio, err := istioclient.NewForConfig(stack.Config)
	Expect(err).NotTo(HaveOccurred())
	kube, err := kubernetes.NewForConfig(stack.Config)
	Expect(err).NotTo(HaveOccurred())
	managed := workload.LabelManagedBy + "=" + workload.ManagedByFledge

	watchFrom(ctx, r, func(ctx context.Context) (string, error) {
		l, err := istio.NetworkingV1().VirtualServices("").List(ctx, metav1.ListOptions{LabelSelector: managed, Limit: 1})
		if err != nil {
			return "", err
		}
		return l.ResourceVersion, nil
	}, func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
		opts.LabelSelector = managed
		return istio.NetworkingV1().VirtualServices("").Watch(ctx, opts)
	}, func(obj runtime.Object) {
		vs := obj.(*istionetworkingv1.VirtualService)
		if vs.Name != "web" {
			return // the fault-injection gate's
		}
		r.addWeight(vs.Namespace+"/"+vs.Name, canaryWeight(vs))
	})
	watcher, err := client.NewWithWatch(stack.Config, client.Options{Scheme: stack.Scheme})
	Expect(err).NotTo(HaveOccurred())
	watchFrom(ctx, r, func(ctx context.Context) (string, error) {
		l := &fledgev1alpha1.CanaryList{}
		if err := watcher.List(ctx, l, client.Limit(1)); err != nil {
			return "", err
		}
		return l.ResourceVersion, nil
	}, func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
		return watcher.Watch(ctx, &fledgev1alpha1.CanaryList{}, &client.ListOptions{Raw: &opts})
	}, func(obj runtime.Object) {
		c := obj.(*fledgev1alpha1.Canary)
		r.addState(c.Namespace+"/"+c.Name, state{RolloutID: c.Status.RolloutID, Phase: c.Status.Phase, Step: c.Status.StepIndex, Weight: c.Status.CanaryWeight})
	})
	watchFrom(ctx, r, func(ctx context.Context) (string, error) {
		l, err := kube.CoordinationV1().Leases("fledge-system").List(ctx, metav1.ListOptions{Limit: 1})
		if err != nil {
			return "", err
		}
		return l.ResourceVersion, nil
	}, func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
		opts.FieldSelector = "metadata.name=fledge.dev"
		return kube.CoordinationV1().Leases("fledge-system").Watch(ctx, opts)
	}, func(obj runtime.Object) {
		r.addHolder(ptr.Deref(obj.(*coordinationv1.Lease).Spec.HolderIdentity, ""))
	})
	return r
}

// watchFrom watches from now on (the resourceVersion of a list), resuming after every break at
// the last resourceVersion seen, so that no write is missed.
func watchFrom(ctx context.Context, r *recorder, list func(context.Context) (string, error), w func(context.Context, metav1.ListOptions) (watch.Interface, error), seen func(runtime.Object)) {
	GinkgoHelper()
	ctx, cancel := context.WithCancel(ctx)
	DeferCleanup(cancel)
	rv, err := list(ctx)
	Expect(err).NotTo(HaveOccurred())
	rw, err := watchtools.NewRetryWatcherWithContext(ctx, rv, &cache.ListWatch{WatchFuncWithContext: w})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(rw.Stop)
	go func() {
		for ev := range rw.ResultChan() {
			switch ev.Type {
			case watch.Added, watch.Modified:
				seen(ev.Object)
			case watch.Error:
				r.fail(fmt.Errorf("a watch broke: %v", ev.Object))
			}
		}
		if ctx.Err() == nil {
			r.fail(fmt.Errorf("a watch ended before the spec: %w", context.Cause(ctx)))
		}
	}()
}

// canaryWeight is the weight of the route to the canary subset (0 when only the primary is
// routed).
func canaryWeight(vs *istionetworkingv1.VirtualService) int32 {
	for _, h := range vs.Spec.Http {
		if len(h.Match) > 0 {
			continue // the A/B, testers' and sticky routes go to the canary whatever the weight
		}
		for _, d := range h.Route {
			if d.Destination.GetSubset() == "canary" {
				return d.Weight
			}
		}
		return 0
	}
	return 0
}

func (r *recorder) addWeight(key string, w int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ws := r.weights[key]; len(ws) == 0 || ws[len(ws)-1] != w {
		r.weights[key] = append(ws, w)
	}
}

func (r *recorder) addState(key string, s state) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ss := r.states[key]; len(ss) == 0 || ss[len(ss)-1] != s {
		r.states[key] = append(ss, s)
	}
}

func (r *recorder) addHolder(h string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if h != "" && (len(r.holders) == 0 || r.holders[len(r.holders)-1] != h) {
		r.holders = append(r.holders, h)
	}
}

func (r *recorder) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.broken == nil {
		r.broken = err
	}
}

func (r *recorder) err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.broken
}

func (r *recorder) leaderChanges() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return max(len(r.holders)-1, 0)
}

func (r *recorder) snapshot(key string) ([]int32, []state) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int32(nil), r.weights[key]...), append([]state(nil), r.states[key]...)
}
