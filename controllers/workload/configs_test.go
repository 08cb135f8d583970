package workload

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func podSpecWithEveryReference() corev1.PodSpec {
	cm := func(n string) corev1.LocalObjectReference { return corev1.LocalObjectReference{Name: n} }
	return corev1.PodSpec{
		Volumes: []corev1.Volume{
			{Name: "a", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: cm("vol-cm")}}},
			{Name: "b", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "vol-secret"}}},
			{Name: "c", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: cm("proj-cm")}},
				{Secret: &corev1.SecretProjection{LocalObjectReference: cm("proj-secret")}},
			}}}},
		},
		InitContainers: []corev1.Container{{EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: cm("init-cm")}}}}},
		Containers: []corev1.Container{{
			EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: cm("envfrom-secret")}}},
			Env: []corev1.EnvVar{
				{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: cm("vol-cm"), Key: "x"}}},
				{Name: "Y", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: cm("env-secret"), Key: "y"}}},
				{Name: "Z", Value: "plain"},
			},
		}},
	}
}

func TestConfigRefsFindsEveryKindOfReferenceOnce(t *testing.T) {
	spec := podSpecWithEveryReference()
	want := []ConfigRef{
		{KindConfigMap, "init-cm"}, {KindConfigMap, "proj-cm"}, {KindConfigMap, "vol-cm"},
		{KindSecret, "env-secret"}, {KindSecret, "envfrom-secret"}, {KindSecret, "proj-secret"}, {KindSecret, "vol-secret"},
	}
	if got := ConfigRefs(&spec); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func TestRenameConfigRefsRenamesEveryReference(t *testing.T) {
	spec := podSpecWithEveryReference()
	RenameConfigRefs(&spec, func(_ ConfigKind, name string) string { return PrimaryConfigName(name) })
	// Every one of the 7 references, and nothing else, carries the new name.
	want := []ConfigRef{
		{KindConfigMap, "init-cm-primary"}, {KindConfigMap, "proj-cm-primary"}, {KindConfigMap, "vol-cm-primary"},
		{KindSecret, "env-secret-primary"}, {KindSecret, "envfrom-secret-primary"}, {KindSecret, "proj-secret-primary"}, {KindSecret, "vol-secret-primary"},
	}
	if got := ConfigRefs(&spec); !reflect.DeepEqual(got, want) {
		t.Errorf("after renaming got %v\nwant %v", got, want)
	}
}

func TestRevisionChangesWithTheContentOfAReferencedConfig(t *testing.T) {
	spec := podSpecWithEveryReference()
	template := &corev1.PodTemplateSpec{Spec: spec}
	hashes := map[ConfigRef]string{{KindConfigMap, "vol-cm"}: "aaa"}
	before := Revision(template, hashes)
	if Revision(template, hashes) != before {
		t.Fatal("the revision is not stable")
	}
	hashes[ConfigRef{KindConfigMap, "vol-cm"}] = "bbb"
	if Revision(template, hashes) == before {
		t.Error("a new ConfigMap content must be a new revision")
	}
}
