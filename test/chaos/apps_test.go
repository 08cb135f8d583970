package chaos_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"fledge.dev/fledge/analysis"
	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/test/cluster"
	"fledge.dev/fledge/test/meshsim"
)

// kind is the shape of an application's rollouts.
type kind int

const (
	// weighted rolls out by weight: 25, 50, 75 %.
	weighted kind = iota
	// abTest sends only the requests with the header x-canary: insider to the canary, twice.
	abTest
	// mirrored mirrors live traffic to the canary once, then rolls out by weight.
	mirrored
)

func (k kind) String() string { return [...]string{"weighted", "A/B", "mirrored"}[k] }

// steps is the number of steps of a rollout of the kind.
func (k kind) steps() int {
	switch k {
	case abTest:
		return 2
	case mirrored:
		return 1 + len(stepWeights)
	}
	return len(stepWeights)
}

// stepWeights is the plan of the weighted steps.
var stepWeights = []int32{25, 50, 75}

// chaosApp is a Deployment with its Canary, in a namespace of its own.
type chaosApp struct {
	ns   string
	kind kind
	uid  string
	// rollouts are what each release asked for and what came of it.
	rollouts []rolloutResult
}

type rolloutResult struct {
	good  bool
	id    string
	phase fledgev1alpha1.CanaryPhase
	// ended is false when the rollout did not end within its time.
	ended bool
	// message is the Canary's status message as it ended: why.
	message string
}

// newChaosApp creates app i and its Canary, judged on the success rate Prometheus measures.
func newChaosApp(ctx context.Context, prefix string, i int, k kind) *chaosApp {
	GinkgoHelper()
	a := &chaosApp{ns: fmt.Sprintf("%s-%02d", prefix, i), kind: k}
	Expect(k8s.Create(ctx, cluster.EnabledNamespace(a.ns))).To(Succeed())
	labels := map[string]string{"app": "web"}
	Expect(k8s.Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: a.ns, Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: template(labels, 0, true),
		},
	})).To(Succeed())
	minimum, window := 95.0, &metav1.Duration{Duration: 4 * time.Second}
	canary := &fledgev1alpha1.Canary{
		ObjectMeta: metav1.ObjectMeta{Namespace: a.ns, Name: "web"},
		Spec: fledgev1alpha1.CanarySpec{
			TargetRef: fledgev1alpha1.TargetRef{Name: "web"},
			Service:   fledgev1alpha1.CanaryService{Port: 80, TargetPort: 8080},
			Analysis: fledgev1alpha1.CanaryAnalysis{
				Interval:    &metav1.Duration{Duration: 2 * time.Second},
				Threshold:   2,
				StepWeights: stepWeights,
				Metrics: []fledgev1alpha1.CanaryMetric{{
					Name: "success-rate", Builtin: analysis.BuiltinSuccessRate, Interval: window,
					MinRequests: ptr.To[int64](5), ThresholdRange: &fledgev1alpha1.ThresholdRange{Min: &minimum},
				}},
			},
		},
	}
	mix := meshsim.Mix{Host: "web", Namespace: a.ns, RequestsPerSecond: 8}
	switch k {
	case abTest:
		insider := "insider"
		canary.Spec.Analysis.Match = []fledgev1alpha1.HTTPMatch{{Headers: map[string]fledgev1alpha1.StringMatch{"x-canary": {Exact: &insider}}}}
		canary.Spec.Analysis.Iterations = ptr.To[int32](2)
		canary.Spec.Analysis.StepWeights = nil
		mix.Variants = []meshsim.Variant{{Weight: 1, Headers: map[string]string{"x-canary": "insider"}}, {Weight: 1}}
	case mirrored:
		canary.Spec.Analysis.Mirror = &fledgev1alpha1.Mirror{Percentage: 100}
		canary.Spec.Analysis.Iterations = ptr.To[int32](1)
	}
	Expect(k8s.Create(ctx, canary)).To(Succeed())
	a.uid = string(canary.UID)
	traffic.add(mix)
	Eventually(func() fledgev1alpha1.CanaryPhase { return a.get(ctx).Status.Phase }).WithContext(ctx).WithTimeout(2 * time.Minute).
		Should(Equal(fledgev1alpha1.PhaseInitialized))
	return a
}

// template is the pod template of release n: a good one fails no request, a bad one half.
func template(labels map[string]string, n int, good bool) corev1.PodTemplateSpec {
	errorRate := "0"
	if !good {
		errorRate = "0.5"
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{meshsim.AnnotationErrorRate: errorRate}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "web", Image: fmt.Sprintf("example.com/web:r%d", n), Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
		}}},
	}
}

func (a *chaosApp) key() client.ObjectKey { return client.ObjectKey{Namespace: a.ns, Name: "web"} }

// get reads the Canary; while the control plane is frozen or restarting it answers an empty
// one, which no wait mistakes for an end.
func (a *chaosApp) get(ctx context.Context) *fledgev1alpha1.Canary {
	c := &fledgev1alpha1.Canary{}
	_ = k8s.Get(ctx, a.key(), c)
	return c
}

// read reads the Canary as it is, retrying while the control plane is frozen or restarting.
func (a *chaosApp) read(ctx context.Context) *fledgev1alpha1.Canary {
	for {
		c := &fledgev1alpha1.Canary{}
		err := k8s.Get(ctx, a.key(), c)
		if err == nil || ctx.Err() != nil {
			return c
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// release rolls out release n and waits until its rollout ends, or gives up after timeout.
func (a *chaosApp) release(ctx context.Context, n int, good bool, timeout time.Duration) rolloutResult {
	// The rollout before this one, read for sure: an empty answer (the API server away) would
	// let the wait below take the last rollout's end for this one's.
	before := a.read(ctx).Status.RolloutID
	for {
		d := &appsv1.Deployment{}
		err := k8s.Get(ctx, a.key(), d)
		if err == nil {
			d.Spec.Template = template(d.Spec.Template.Labels, n, good)
			err = k8s.Update(ctx, d)
		}
		if err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond) // a frozen API server, or a conflict
	}
	result := rolloutResult{good: good}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		st := a.get(ctx).Status
		ended := st.Phase == fledgev1alpha1.PhaseFailed || st.Phase == fledgev1alpha1.PhaseSucceeded && st.LastPromotedRevision == st.CanaryRevision
		if st.RolloutID != "" && st.RolloutID != before && ended {
			result.id, result.phase, result.ended, result.message = st.RolloutID, st.Phase, true, st.Message
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	a.rollouts = append(a.rollouts, result)
	return result
}

// trafficMixes is what the simulated clients send, one mix per application.
type trafficMixes struct {
	mu    sync.Mutex
	mixes []meshsim.Mix
}

var traffic trafficMixes

func (t *trafficMixes) add(m meshsim.Mix) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.mixes = append(t.mixes, m)
	mesh.SetTraffic(append([]meshsim.Mix(nil), t.mixes...))
}
