package chaos_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/utils/ptr"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/workload"
	"fledge.dev/fledge/test/cluster"
)

// state is what one write left of a Canary's status.
type state struct {
	RolloutID string
	Phase     fledgev1alpha1.CanaryPhase
	Step      int32
	Weight    int32
}

// recorder keeps, from etcd's watch, every write to the VirtualServices and Canaries of the
// suite and to the leader Lease.
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
	// etcd's own watch, not kube-apiserver's: the suite restarts kube-apiserver, whose watch
	// cache then serves only what happened since it started (an older resourceVersion is
	// 410 Gone), while etcd keeps every revision for a watch that is already open.
	etcd, err := clientv3.New(clientv3.Config{Endpoints: []string{stack.EtcdEndpoint()}, DialTimeout: 10 * time.Second})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(etcd.Close)
	now, err := etcd.Get(ctx, "/registry/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	Expect(err).NotTo(HaveOccurred())
	from := now.Header.Revision + 1

	watchEtcd(ctx, r, etcd, "/registry/networking.istio.io/virtualservices/", from, func(value []byte) error {
		vs := &istionetworkingv1.VirtualService{}
		if err := json.Unmarshal(value, vs); err != nil {
			return err
		}
		if vs.Labels[workload.LabelManagedBy] != workload.ManagedByFledge || vs.Name != "web" {
			return nil // the user's own, and the fault-injection gate's
		}
		r.addWeight(vs.Namespace+"/"+vs.Name, canaryWeight(vs))
		return nil
	})
	watchEtcd(ctx, r, etcd, "/registry/fledge.dev/canaries/", from, func(value []byte) error {
		c := &fledgev1alpha1.Canary{}
		if err := json.Unmarshal(value, c); err != nil {
			return err
		}
		r.addState(c.Namespace+"/"+c.Name, state{RolloutID: c.Status.RolloutID, Phase: c.Status.Phase, Step: c.Status.StepIndex, Weight: c.Status.CanaryWeight})
		return nil
	})
	// Built-in kinds are stored as protobuf.
	decoder := serializer.NewCodecFactory(stack.Scheme).UniversalDeserializer()
	watchEtcd(ctx, r, etcd, "/registry/leases/"+cluster.ManagerNamespace+"/fledge.dev", from, func(value []byte) error {
		obj, _, err := decoder.Decode(value, nil, nil)
		if err != nil {
			return err
		}
		r.addHolder(ptr.Deref(obj.(*coordinationv1.Lease).Spec.HolderIdentity, ""))
		return nil
	})
	return r
}

// watchEtcd hands every value written under prefix, from revision from on, to seen. etcd's
// client resumes a broken watch at the revision after the last one it delivered, so no
// write is missed unless etcd compacted it first, which fails the record.
func watchEtcd(ctx context.Context, r *recorder, etcd *clientv3.Client, prefix string, from int64, seen func(value []byte) error) {
	ctx, cancel := context.WithCancel(ctx)
	DeferCleanup(cancel)
	changes := etcd.Watch(ctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(from))
	go func() {
		for resp := range changes {
			if err := resp.Err(); err != nil {
				r.fail(fmt.Errorf("the watch of %s broke: %w", prefix, err))
				return
			}
			for _, ev := range resp.Events {
				if ev.Type != clientv3.EventTypePut {
					continue
				}
				if err := seen(ev.Kv.Value); err != nil {
					r.fail(fmt.Errorf("decode %s: %w", ev.Kv.Key, err))
				}
			}
		}
		if ctx.Err() == nil {
			r.fail(fmt.Errorf("the watch of %s ended before the spec", prefix))
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
