package controllers

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"fledge.dev/fledge/controllers/workload"
)

const kubectlCopy = `{"apiVersion":"v1","kind":"Secret","data":{"password":"aHVudGVyMg=="}}`

func applied(extra map[string]string) metav1.ObjectMeta {
	annotations := map[string]string{corev1.LastAppliedConfigAnnotation: kubectlCopy}
	for k, v := range extra {
		annotations[k] = v
	}
	return metav1.ObjectMeta{
		Name: "web", Namespace: "shop", UID: "u1", ResourceVersion: "7",
		Annotations:   annotations,
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
	}
}

func trim(t *testing.T, obj any) any {
	t.Helper()
	out, err := trimForCache(obj)
	if err != nil {
		t.Fatalf("trimForCache: %v", err)
	}
	return out
}

func TestTheCacheKeepsNoAnnotationOfASecretsMetadata(t *testing.T) {
	meta := &metav1.PartialObjectMetadata{ObjectMeta: applied(map[string]string{"team": "shop"})}
	meta.Labels = map[string]string{"app": "web"}
	got := trim(t, meta).(*metav1.PartialObjectMetadata)
	if got.Annotations != nil || got.ManagedFields != nil {
		t.Errorf("the Secret's metadata keeps annotations %v and managed fields %v; kubectl's copy holds its data", got.Annotations, got.ManagedFields)
	}
	if got.Name != "web" || got.UID != "u1" || got.ResourceVersion != "7" || got.Labels["app"] != "web" {
		t.Errorf("what the config hashes read is gone: %+v", got.ObjectMeta)
	}
}

func TestTheCacheDropsKubectlsCopyOfATargetButNotItsSpec(t *testing.T) {
	target := &appsv1.Deployment{ObjectMeta: applied(map[string]string{"owner": "team-a"}), Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](3)}}
	got := trim(t, target).(*appsv1.Deployment)
	if _, ok := got.Annotations[corev1.LastAppliedConfigAnnotation]; ok {
		t.Error("the target keeps kubectl's last-applied-configuration in the cache")
	}
	if got.Annotations["owner"] != "team-a" || ptr.Deref(got.Spec.Replicas, 0) != 3 || got.ManagedFields != nil {
		t.Errorf("trimmed more or less than kubectl's copy and the managed fields: %+v", got)
	}
}

// Fledge updates its own copies and adopted Services whole from the cache: what the cache
// drops there, the update would drop on the server.
func TestTheCacheKeepsTheAnnotationsOfWhatFledgeUpdatesWhole(t *testing.T) {
	copyMeta := applied(nil)
	copyMeta.Labels = workload.ManagedLabels("web", workload.Primary)
	primary := trim(t, &appsv1.Deployment{ObjectMeta: copyMeta}).(*appsv1.Deployment)
	if primary.Annotations[corev1.LastAppliedConfigAnnotation] == "" {
		t.Error("Fledge's own Deployment lost an annotation in the cache")
	}
	svc := trim(t, &corev1.Service{ObjectMeta: applied(nil)}).(*corev1.Service)
	if svc.Annotations[corev1.LastAppliedConfigAnnotation] == "" {
		t.Error("an adopted Service lost the user's last-applied-configuration in the cache")
	}
	if primary.ManagedFields != nil || svc.ManagedFields != nil {
		t.Error("managed fields are kept")
	}
}
