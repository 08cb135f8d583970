package plugin_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/test/canarytest"
	"fledge.dev/fledge/test/cluster"
)

// result is what one run of kubectl printed and how it ended.
type result struct {
	stdout, stderr string
	exitCode       int
	took           time.Duration
}

// kubectl runs the real kubectl with args (plugin commands start with "fledge"); kubectl
// finds kubectl-fledge on PATH. The administrator kubeconfig is used unless args name one.
func kubectl(ctx context.Context, args ...string) result {
	GinkgoHelper()
	if !hasFlag(args, "--kubeconfig") {
		args = append(args, "--kubeconfig", stack.KubeconfigPath)
	}
	cmd := exec.CommandContext(ctx, stack.Assets.Kubectl(), args...)
	cmd.Env = append(os.Environ(), "PATH="+pluginDir+string(os.PathListSeparator)+os.Getenv("PATH"), "HOME="+GinkgoT().TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.exitCode = exit.ExitCode()
	case err != nil:
		Fail("run kubectl: " + err.Error())
	}
	GinkgoWriter.Printf("$ kubectl %s  (exit %d, %s)\n%s%s", strings.Join(args, " "), r.exitCode, r.took.Round(time.Millisecond), r.stdout, r.stderr)
	return r
}

func hasFlag(args []string, flag string) bool {
	for _, a := range args {
		if a == flag || strings.HasPrefix(a, flag+"=") {
			return true
		}
	}
	return false
}

// app is a Deployment with its Canary of the same name.
type app struct {
	ns, name string
}

type appOption func(*fledgev1alpha1.Canary)

func withInterval(d time.Duration) appOption {
	return func(c *fledgev1alpha1.Canary) { c.Spec.Analysis.Interval = &metav1.Duration{Duration: d} }
}

func withThreshold(n int32) appOption {
	return func(c *fledgev1alpha1.Canary) { c.Spec.Analysis.Threshold = n }
}

func withMetrics(metrics ...fledgev1alpha1.CanaryMetric) appOption {
	return func(c *fledgev1alpha1.Canary) { c.Spec.Analysis.Metrics = metrics }
}

// newNamespace creates a namespace; name "" picks a random one.
func newNamespace(ctx context.Context, name string) string {
	GinkgoHelper()
	if name == "" {
		name = "plugin-" + rand.String(6)
	}
	Expect(k8s.Create(ctx, cluster.EnabledNamespace(name))).To(Succeed())
	return name
}

// newApp creates the Deployment name (image v1, 2 replicas) and a Canary for it with
// 4 steps of 20 %, and waits until the Canary is Initialized.
func newApp(ctx context.Context, ns, name string, opts ...appOption) *app {
	GinkgoHelper()
	a := &app{ns: ns, name: name}
	labels := map[string]string{"app": name}
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptrTo[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "example.com/" + name + ":v1",
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
				}}},
			},
		},
	}
	canary := &fledgev1alpha1.Canary{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: fledgev1alpha1.CanarySpec{
			TargetRef: fledgev1alpha1.TargetRef{Name: name},
			Service:   fledgev1alpha1.CanaryService{Port: 80, TargetPort: 8080},
			Analysis: fledgev1alpha1.CanaryAnalysis{
				Interval:  &metav1.Duration{Duration: time.Second},
				Threshold: 3,
			},
		},
	}
	for _, o := range opts {
		o(canary)
	}
	Expect(k8s.Create(ctx, deploy)).To(Succeed())
	Expect(k8s.Create(ctx, canary)).To(Succeed())
	a.waitPhase(ctx, fledgev1alpha1.PhaseInitialized)
	return a
}

func (a *app) key() client.ObjectKey { return client.ObjectKey{Namespace: a.ns, Name: a.name} }

func (a *app) get(ctx context.Context) *fledgev1alpha1.Canary {
	return canarytest.Get(ctx, k8s, a.key())
}

func (a *app) waitPhase(ctx context.Context, phase fledgev1alpha1.CanaryPhase) *fledgev1alpha1.Canary {
	return canarytest.WaitPhase(ctx, k8s, a.key(), phase)
}

func (a *app) waitWeight(ctx context.Context, weight int32) {
	canarytest.WaitWeight(ctx, k8s, a.key(), weight)
}

// setImage changes the target's image, which starts a rollout.
func (a *app) setImage(ctx context.Context, image string) {
	canarytest.SetImage(ctx, k8s, a.key(), image)
}

// startRollout changes the image and waits until the canary gets traffic (step 1).
func (a *app) startRollout(ctx context.Context, image string) {
	GinkgoHelper()
	a.setImage(ctx, image)
	a.waitPhase(ctx, fledgev1alpha1.PhaseProgressing)
	a.waitWeight(ctx, 20)
}

// effects records, through a watch started before a command runs, how long after start
// the canary first showed each effect of the command.
type effects struct {
	start   time.Time
	handled chan time.Duration
	phase   chan time.Duration
	stop    func()
}

// watchEffects waits for a new status.lastHandledRequest and for the phase to become phase.
func (a *app) watchEffects(ctx context.Context, phase fledgev1alpha1.CanaryPhase) *effects {
	GinkgoHelper()
	before := a.get(ctx)
	previousID := ""
	if h := before.Status.LastHandledRequest; h != nil {
		previousID = h.ID
	}
	w, err := k8s.Watch(ctx, &fledgev1alpha1.CanaryList{}, client.InNamespace(a.ns),
		client.MatchingFields{"metadata.name": a.name}, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: before.ResourceVersion}})
	Expect(err).NotTo(HaveOccurred())
	e := &effects{start: time.Now(), handled: make(chan time.Duration, 1), phase: make(chan time.Duration, 1), stop: w.Stop}
	go func() {
		handledSeen, phaseSeen := false, false
		for ev := range w.ResultChan() {
			c, ok := ev.Object.(*fledgev1alpha1.Canary)
			if !ok {
				continue
			}
			if h := c.Status.LastHandledRequest; !handledSeen && h != nil && h.ID != previousID {
				handledSeen = true
				e.handled <- time.Since(e.start)
			}
			if !phaseSeen && c.Status.Phase == phase {
				phaseSeen = true
				e.phase <- time.Since(e.start)
			}
		}
	}()
	DeferCleanup(w.Stop)
	return e
}

// wait returns how long after start the request was handled and the phase reached.
func (e *effects) wait() (handled, phase time.Duration) {
	GinkgoHelper()
	Eventually(e.handled).WithTimeout(30 * time.Second).Should(Receive(&handled))
	Eventually(e.phase).WithTimeout(30 * time.Second).Should(Receive(&phase))
	e.stop()
	return handled, phase
}

// writeKubeconfig writes a kubeconfig for the control plane that authenticates with token
// as the kubeconfig user userName.
func writeKubeconfig(userName, token string) string {
	GinkgoHelper()
	config := `apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: ` + stack.Config.Host + `
    certificate-authority: ` + writeTemp("ca.crt", stack.Config.CAData) + `
users:
- name: ` + userName + `
  user:
    token: ` + token + `
contexts:
- name: local
  context:
    cluster: local
    user: ` + userName + `
current-context: local
`
	return writeTemp("kubeconfig-"+userName, []byte(config))
}

func writeTemp(name string, data []byte) string {
	GinkgoHelper()
	path := filepath.Join(GinkgoT().TempDir(), name)
	Expect(os.WriteFile(path, data, 0o600)).To(Succeed())
	return path
}
