package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"fledge.dev/fledge/analysis"
	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/test/cluster"
)

// appKeys names the apps: app-0000, app-0001, ... spread round-robin over the namespaces.
// Each app is a Deployment and a Canary of the same name.
func appKeys(apps, namespaces int) []types.NamespacedName {
	keys := make([]types.NamespacedName, apps)
	for i := range keys {
		keys[i] = types.NamespacedName{Namespace: fmt.Sprintf("bench-%d", i%namespaces), Name: fmt.Sprintf("app-%04d", i)}
	}
	return keys
}

// createApps creates the namespaces, then each app's Deployment (1 replica) and Canary.
func createApps(ctx context.Context, k8s client.Client, keys []types.NamespacedName, opts options) error {
	for i := range opts.namespaces {
		ns := cluster.EnabledNamespace(fmt.Sprintf("bench-%d", i))
		if err := k8s.Create(ctx, ns); err != nil {
			return fmt.Errorf("create namespace %s: %w", ns.Name, err)
		}
	}
	return forEach(ctx, len(keys), opts.createWorkers, func(ctx context.Context, i int) error {
		key := keys[i]
		if err := retryTransient(ctx, func() error { return k8s.Create(ctx, targetDeployment(key)) }); err != nil {
			return fmt.Errorf("create Deployment %s: %w", key, err)
		}
		if err := retryTransient(ctx, func() error { return k8s.Create(ctx, benchCanary(key, opts)) }); err != nil {
			return fmt.Errorf("create Canary %s: %w", key, err)
		}
		return nil
	})
}

// targetDeployment is an app's Deployment as `kubectl apply` (or Argo CD) leaves it: with its
// manifest again in the last-applied-configuration annotation, as most Deployments carry.
func targetDeployment(key types.NamespacedName) *appsv1.Deployment {
	d := manifest(key)
	d.TypeMeta = metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}
	applied, err := json.Marshal(d)
	if err != nil {
		panic(err) // a Deployment always marshals
	}
	d.Annotations = map[string]string{corev1.LastAppliedConfigAnnotation: string(applied)}
	return d
}

func manifest(key types.NamespacedName) *appsv1.Deployment {
	labels := map[string]string{"app": key.Name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "web", Image: "example.com/web:v1",
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
				}}},
			},
		},
	}
}

// benchCanary has no metrics, so that every check passes and only the schedule sets the pace.
func benchCanary(key types.NamespacedName, opts options) *fledgev1alpha1.Canary {
	return &fledgev1alpha1.Canary{
		ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name},
		Spec: fledgev1alpha1.CanarySpec{
			TargetRef: fledgev1alpha1.TargetRef{Name: key.Name},
			Service:   fledgev1alpha1.CanaryService{Port: 80, TargetPort: 8080},
			Analysis: fledgev1alpha1.CanaryAnalysis{
				Interval:    &metav1.Duration{Duration: opts.interval},
				StepWeights: opts.stepWeights,
				Metrics:     benchMetrics(opts),
			},
		},
	}
}

// benchMetrics is the built-in success-rate check with -metrics, over a window of at least
// four scrapes (rate() needs two points in it, whatever the scrape's phase).
func benchMetrics(opts options) []fledgev1alpha1.CanaryMetric {
	if !opts.metrics {
		return nil
	}
	minimum := 90.0
	window := max(opts.interval, 4*scrapeInterval)
	return []fledgev1alpha1.CanaryMetric{{
		Name: "success-rate", Builtin: analysis.BuiltinSuccessRate,
		Interval:       &metav1.Duration{Duration: window},
		ThresholdRange: &fledgev1alpha1.ThresholdRange{Min: &minimum},
	}}
}

// triggerRollouts changes an env var of every target's pod template: a new revision each.
func triggerRollouts(ctx context.Context, k8s client.Client, keys []types.NamespacedName, workers int) error {
	patch := client.RawPatch(types.StrategicMergePatchType,
		[]byte(`{"spec":{"template":{"spec":{"containers":[{"name":"web","env":[{"name":"BENCH_REVISION","value":"2"}]}]}}}}`))
	return forEach(ctx, len(keys), workers, func(ctx context.Context, i int) error {
		target := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: keys[i].Namespace, Name: keys[i].Name}}
		// A patch carries no resourceVersion: the manager's own patches of the target (scaling
		// it to zero) cannot make it conflict.
		return retryTransient(ctx, func() error {
			if err := k8s.Patch(ctx, target, patch); err != nil {
				return fmt.Errorf("change the pod template of Deployment %s: %w", keys[i], err)
			}
			return nil
		})
	})
}

// forEach runs fn for 0..n-1 on workers goroutines and returns the first error; after an
// error no new call starts.
func forEach(parent context.Context, n, workers int, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return parent.Err()
}

// retryTransient retries fn a few times when the API server is briefly overloaded.
func retryTransient(ctx context.Context, fn func() error) error {
	var err error
	for attempt := range 5 {
		if err = fn(); err == nil {
			return nil
		}
		if !apierrors.IsServerTimeout(err) && !apierrors.IsTooManyRequests(err) && !apierrors.IsTimeout(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 500 * time.Millisecond):
		}
	}
	return err
}
