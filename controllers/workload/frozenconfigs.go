package workload

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/ownership"
)

// freezeConfigs copies each ConfigMap and Secret the primary's new revision references to
// <name>-primary, which the primary's pod template points at instead. Editing the original
// then starts a canary rollout and leaves the primary as it was.
func (d *Deployments) freezeConfigs(ctx context.Context, canary *fledgev1alpha1.Canary, refs []ConfigRef) error {
	for _, ref := range refs {
		if err := d.freezeConfig(ctx, canary, ref); err != nil {
			return err
		}
	}
	return nil
}

func (d *Deployments) freezeConfig(ctx context.Context, canary *fledgev1alpha1.Canary, ref ConfigRef) error {
	original, frozen := newConfig(ref.Kind), newConfig(ref.Kind)
	err := d.APIReader.Get(ctx, client.ObjectKey{Namespace: canary.Namespace, Name: ref.Name}, original)
	if apierrors.IsNotFound(err) {
		return nil // an optional reference to nothing; the copy's reference finds nothing too
	} else if err != nil {
		return fmt.Errorf("read %s %s/%s for the primary: %w", ref.Kind, canary.Namespace, ref.Name, err)
	}

	name := PrimaryConfigName(ref.Name)
	err = d.APIReader.Get(ctx, client.ObjectKey{Namespace: canary.Namespace, Name: name}, frozen)
	exists := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("read %s %s/%s: %w", ref.Kind, canary.Namespace, name, err)
	}
	if exists && ownership.ManagedBy(frozen) != canary.Name {
		return fmt.Errorf("%s %s/%s exists and is not the primary's copy of %s made by this Canary: rename or delete it",
			ref.Kind, canary.Namespace, name, ref.Name)
	}
	if exists && sameData(original, frozen) && ownership.Controls(frozen, canary) {
		return nil
	}

	frozen.SetNamespace(canary.Namespace)
	frozen.SetName(name)
	frozen.SetLabels(ManagedLabels(canary.Name, Primary))
	copyData(original, frozen)
	if _, err := ownership.Claim(frozen, canary, d.Scheme); err != nil {
		return err
	}
	if exists {
		err = d.Client.Update(ctx, frozen)
	} else {
		err = d.Client.Create(ctx, frozen)
	}
	if err != nil {
		return fmt.Errorf("copy %s %s to %s for the primary: %w", ref.Kind, ref.Name, name, err)
	}
	return nil
}

func newConfig(kind ConfigKind) client.Object {
	if kind == KindSecret {
		return &corev1.Secret{}
	}
	return &corev1.ConfigMap{}
}

func sameData(a, b client.Object) bool {
	switch a := a.(type) {
	case *corev1.ConfigMap:
		b := b.(*corev1.ConfigMap)
		return maps.Equal(a.Data, b.Data) && maps.EqualFunc(a.BinaryData, b.BinaryData, bytesEqual)
	case *corev1.Secret:
		b := b.(*corev1.Secret)
		return a.Type == b.Type && maps.EqualFunc(a.Data, b.Data, bytesEqual)
	}
	return false
}

func copyData(from, to client.Object) {
	switch from := from.(type) {
	case *corev1.ConfigMap:
		to := to.(*corev1.ConfigMap)
		to.Data, to.BinaryData = from.Data, from.BinaryData
	case *corev1.Secret:
		to := to.(*corev1.Secret)
		to.Data, to.Type = from.Data, from.Type
	}
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

// releaseFrozenConfigs keeps the primary's copies of ConfigMaps and Secrets when the Canary
// goes, since the primary keeps running with them.
func (d *Deployments) releaseFrozenConfigs(ctx context.Context, canary *fledgev1alpha1.Canary) error {
	selector := client.MatchingLabels(ManagedLabels(canary.Name, Primary))
	for _, list := range []client.ObjectList{&corev1.ConfigMapList{}, &corev1.SecretList{}} {
		if err := d.APIReader.List(ctx, list, client.InNamespace(canary.Namespace), selector); err != nil {
			return fmt.Errorf("list the primary's copies of ConfigMaps and Secrets: %w", err)
		}
		var objs []client.Object
		switch l := list.(type) {
		case *corev1.ConfigMapList:
			for i := range l.Items {
				objs = append(objs, &l.Items[i])
			}
		case *corev1.SecretList:
			for i := range l.Items {
				objs = append(objs, &l.Items[i])
			}
		}
		for _, obj := range objs {
			if err := d.disown(ctx, obj, canary); err != nil {
				return err
			}
		}
	}
	return nil
}
