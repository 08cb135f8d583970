package rollout_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"fledge.dev/fledge/analysis"
	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/rollout"
)

func TestRollout(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Rollout decisions")
}

// story plays a canary through time against a world that converges on what the decisions
// ask for, unless a test holds a Deployment back. Every decision is made twice: the second
// time, with nothing changed, it must not change the status or emit an event (a no-op
// reconcile writes nothing).
type story struct {
	now    time.Time
	spec   fledgev1alpha1.CanarySpec
	status fledgev1alpha1.CanaryStatus

	target, primary, canary rollout.Workload
	// holdCanary and holdPrimary keep a Deployment from becoming ready.
	holdCanary, holdPrimary bool
	verdict                 analysis.Result
	checksRun               int
	// failActs, when set, is the error with which the world refuses every act (a webhook that
	// times out): the reconciler then records the decision not Ready, ApplyFailed.
	failActs string

	// queueFull, when set, is why the cap on simultaneous rollouts lets nothing start: the
	// reconciler says so when the decision may start one (WantsSlot).
	queueFull string

	// generation is the spec's (1 unless a test edits the spec).
	generation int64

	events  []rollout.Event
	weights []int32 // canary weight after each decision, when it changed
	// routes are the routes each decision asked for, when they changed.
	routes []rollout.Routes
	last   rollout.Decision
}

func newStory() *story {
	return &story{
		now: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC),
		spec: fledgev1alpha1.CanarySpec{
			TargetRef: fledgev1alpha1.TargetRef{Name: "app"},
			Service:   fledgev1alpha1.CanaryService{Port: 80},
			Analysis: fledgev1alpha1.CanaryAnalysis{
				Interval:  &metav1.Duration{Duration: time.Minute},
				Threshold: 3,
			},
			ProgressDeadlineSeconds: ptr.To[int32](600),
		},
		target:  rollout.Workload{Exists: true, Revision: "v1", Replicas: 3, Ready: true},
		verdict: analysis.Result{Verdict: analysis.Pass, Message: "all checks passed"},
		weights: []int32{0},
	}
}

func (s *story) observation() rollout.Observation {
	obs := rollout.Observation{
		Now: s.now, Generation: max(s.generation, 1), Spec: s.spec, Status: s.status,
		Target: s.target, Primary: s.primary, Canary: s.canary,
	}
	if rollout.WantsSlot(&obs) {
		obs.QueueFull = s.queueFull
	}
	if s.spec.Subsets != nil {
		// The user's candidate Deployment is both the source and the canary.
		obs.Primary, obs.Canary = rollout.Workload{}, s.target
	}
	return obs
}

// reconcile runs one reconcile as the controller does: decide; when the decision asks for
// the checks, run them and decide again with their verdict; then the world converges.
func (s *story) reconcile() rollout.Decision {
	GinkgoHelper()
	obs := s.observation()
	d := s.decide(obs)

	d.Status = s.written(d)

	again := obs
	again.Status = d.Status
	again.Checks = nil
	second := rollout.Decide(again)
	second.Status = s.written(second)
	Expect(second.Check).To(BeNil(), "deciding again with nothing changed must not run the checks again")
	Expect(cmp.Diff(d.Status, second.Status)).To(BeEmpty(), "deciding again with nothing changed must not change the status")
	Expect(second.Events).To(BeEmpty(), "deciding again with nothing changed must not emit events")
	Expect(second.Want).To(Equal(d.Want), "deciding again with nothing changed must not move the routes")

	s.status = d.Status
	s.events = append(s.events, d.Events...)
	if w := d.Status.CanaryWeight; w != s.weights[len(s.weights)-1] {
		s.weights = append(s.weights, w)
	}
	if d.Want.RoutesEnabled && (len(s.routes) == 0 || !s.routes[len(s.routes)-1].Equal(d.Want.Routes)) {
		s.routes = append(s.routes, d.Want.Routes)
	}
	if s.failActs == "" {
		s.converge(d.Want)
	}
	s.last = d
	return d
}

// written is the status the reconciler records for a decision: the decision's own, or,
// while the world refuses the acts, the decision marked not Ready with the failure (as its
// reportProblem and holdApplyFailure do).
func (s *story) written(d rollout.Decision) fledgev1alpha1.CanaryStatus {
	st := *d.Status.DeepCopy()
	if s.failActs != "" {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: fledgev1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: fledgev1alpha1.ReasonApplyFailed,
			Message: s.failActs, ObservedGeneration: max(s.generation, 1), LastTransitionTime: metav1.NewTime(s.now),
		})
		st.Message = s.failActs
	}
	return st
}

// decide decides, and when asked, runs the checks and decides again with their verdict.
func (s *story) decide(obs rollout.Observation) rollout.Decision {
	GinkgoHelper()
	d := rollout.Decide(obs)
	if d.Check == nil {
		return d
	}
	Expect(obs.Canary.Ready).To(BeTrue(), "checks asked of a canary that is not ready")
	verdict := s.verdict
	obs.Checks = &verdict
	s.checksRun++
	judged := rollout.Decide(obs)
	Expect(judged.Check).To(BeNil(), "a verdict was given and the checks are asked for again")
	return judged
}

func (s *story) converge(want rollout.Desired) {
	if s.spec.Subsets != nil {
		return // Fledge changes none of the user's Deployments
	}
	s.primary = rollout.Workload{Exists: true, Revision: want.PrimaryRevision, Replicas: want.PrimaryReplicas, Ready: !s.holdPrimary}
	if want.CanaryRevision != "" {
		s.canary = rollout.Workload{Exists: true, Revision: want.CanaryRevision, Replicas: want.CanaryReplicas, Ready: want.CanaryReplicas > 0 && !s.holdCanary}
	}
	if want.ScaleDownTarget {
		s.target.Replicas = 0
	}
}

// wait moves the clock to the next timer the decision asked for, and reconciles.
func (s *story) wait() rollout.Decision {
	GinkgoHelper()
	Expect(s.last.RequeueAfter).To(BeNumerically(">", 0), "the canary asked for no timer")
	s.now = s.now.Add(s.last.RequeueAfter)
	return s.reconcile()
}

// until reconciles on timers until the phase is reached (at most n times).
func (s *story) until(phase fledgev1alpha1.CanaryPhase, n int) {
	GinkgoHelper()
	for i := 0; i < n && s.status.Phase != phase; i++ {
		if s.last.RequeueAfter == 0 {
			s.reconcile()
			continue
		}
		s.wait()
	}
	Expect(s.status.Phase).To(Equal(phase), s.status.Message)
}

func (s *story) initialised() *story {
	GinkgoHelper()
	s.reconcile() // creates the primary
	s.reconcile() // the primary is ready
	Expect(s.status.Phase).To(Equal(fledgev1alpha1.PhaseInitialized))
	s.events = nil
	return s
}

func (s *story) newRevision(rev string) {
	s.target.Revision = rev
	s.target.Replicas = 0
}

func (s *story) request(id string, action fledgev1alpha1.RequestAction) rollout.Decision {
	GinkgoHelper()
	s.status.Request = &fledgev1alpha1.ManualRequest{ID: id, Action: action, RequestedBy: "alice"}
	return s.reconcile()
}

func reasons(events []rollout.Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Reason)
	}
	return out
}

func condition(st fledgev1alpha1.CanaryStatus, t string) *metav1.Condition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}
