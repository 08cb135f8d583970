package workload

import (
	"cmp"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// ConfigKind is a kind of object a pod template can take configuration from.
type ConfigKind string

const (
	KindConfigMap ConfigKind = "ConfigMap"
	KindSecret    ConfigKind = "Secret"
)

// ConfigRef names a ConfigMap or Secret in the pod's namespace.
type ConfigRef struct {
	Kind ConfigKind
	Name string
}

// ConfigRefs lists, sorted and without repeats, the ConfigMaps and Secrets a pod spec takes
// configuration from: volumes (also projected), env and envFrom of every container.
func ConfigRefs(spec *corev1.PodSpec) []ConfigRef {
	var refs []ConfigRef
	visitConfigRefs(spec, func(kind ConfigKind, name *string) {
		refs = append(refs, ConfigRef{Kind: kind, Name: *name})
	})
	slices.SortFunc(refs, func(a, b ConfigRef) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name))
	})
	return slices.Compact(refs)
}

// RenameConfigRefs points every reference of a pod spec at rename(kind, name).
func RenameConfigRefs(spec *corev1.PodSpec, rename func(ConfigKind, string) string) {
	visitConfigRefs(spec, func(kind ConfigKind, name *string) { *name = rename(kind, *name) })
}

// visitConfigRefs calls visit with a pointer to each ConfigMap or Secret name in spec.
func visitConfigRefs(spec *corev1.PodSpec, visit func(ConfigKind, *string)) {
	for i := range spec.Volumes {
		v := &spec.Volumes[i].VolumeSource
		if v.ConfigMap != nil {
			visit(KindConfigMap, &v.ConfigMap.Name)
		}
		if v.Secret != nil {
			visit(KindSecret, &v.Secret.SecretName)
		}
		if v.Projected != nil {
			for j := range v.Projected.Sources {
				src := &v.Projected.Sources[j]
				if src.ConfigMap != nil {
					visit(KindConfigMap, &src.ConfigMap.Name)
				}
				if src.Secret != nil {
					visit(KindSecret, &src.Secret.Name)
				}
			}
		}
	}
	for _, containers := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range containers {
			c := &containers[i]
			for j := range c.EnvFrom {
				if ref := c.EnvFrom[j].ConfigMapRef; ref != nil {
					visit(KindConfigMap, &ref.Name)
				}
				if ref := c.EnvFrom[j].SecretRef; ref != nil {
					visit(KindSecret, &ref.Name)
				}
			}
			for j := range c.Env {
				from := c.Env[j].ValueFrom
				if from == nil {
					continue
				}
				if from.ConfigMapKeyRef != nil {
					visit(KindConfigMap, &from.ConfigMapKeyRef.Name)
				}
				if from.SecretKeyRef != nil {
					visit(KindSecret, &from.SecretKeyRef.Name)
				}
			}
		}
	}
}

// PrimaryConfigName is the name of the primary's frozen copy of a ConfigMap or Secret.
func PrimaryConfigName(name string) string { return name + "-" + string(Primary) }
