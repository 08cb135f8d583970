package ownership

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

var canary = &fledgev1alpha1.Canary{
	TypeMeta:   metav1.TypeMeta{APIVersion: fledgev1alpha1.GroupVersion.String(), Kind: "Canary"},
	ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", UID: "uid-web"},
}

func canaryRef(uid types.UID, controller bool) metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion: fledgev1alpha1.GroupVersion.String(), Kind: "Canary", Name: "web", UID: uid,
		Controller: ptr.To(controller), BlockOwnerDeletion: ptr.To(true),
	}
}

// otherRef is an owner that is not a Canary, which Fledge must leave alone.
var otherRef = metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "keeper", UID: "uid-keeper"}

func meta(refs ...metav1.OwnerReference) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: "shop", Name: "web", OwnerReferences: refs}
}

func TestControls(t *testing.T) {
	for _, tc := range []struct {
		name string
		obj  metav1.ObjectMeta
		want bool
	}{
		{"controller ref of this canary", meta(otherRef, canaryRef("uid-web", true)), true},
		{"controller ref of an earlier canary of the same name", meta(canaryRef("uid-old", true)), false},
		{"non-controller ref of this canary", meta(canaryRef("uid-web", false)), false},
		{"no refs", meta(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Controls(&tc.obj, canary); got != tc.want {
				t.Errorf("Controls = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestClaim(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := fledgev1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		obj         metav1.ObjectMeta
		wantChanged bool
		wantErr     bool
		// wantRefs is how many owner references obj has after the claim.
		wantRefs int
	}{
		{"controller ref of this canary", meta(otherRef, canaryRef("uid-web", true)), false, false, 2},
		{"controller ref of an earlier canary of the same name", meta(canaryRef("uid-old", true)), true, false, 1},
		{"non-controller ref of this canary", meta(canaryRef("uid-web", false)), true, false, 1},
		{"no refs", meta(), true, false, 1},
		{"another owner", meta(otherRef), true, false, 2},
		{"another controller", meta(metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: "uid-rs", Controller: ptr.To(true)}), false, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := &corev1.ConfigMap{ObjectMeta: tc.obj}
			changed, err := Claim(obj, canary, scheme)
			if (err != nil) != tc.wantErr || changed != tc.wantChanged {
				t.Fatalf("Claim = %v, %v; want changed %v, error %v", changed, err, tc.wantChanged, tc.wantErr)
			}
			if n := len(obj.OwnerReferences); n != tc.wantRefs {
				t.Errorf("%d owner references after Claim, want %d: %v", n, tc.wantRefs, obj.OwnerReferences)
			}
			if tc.wantErr {
				return
			}
			if !Controls(obj, canary) {
				t.Errorf("canary does not control obj after Claim: %v", obj.OwnerReferences)
			}
			if changed, err := Claim(obj, canary, scheme); changed || err != nil {
				t.Errorf("second Claim = %v, %v; want unchanged", changed, err)
			}
		})
	}
}

func TestRelease(t *testing.T) {
	for _, tc := range []struct {
		name        string
		obj         metav1.ObjectMeta
		wantChanged bool
		wantRefs    []metav1.OwnerReference
	}{
		{"controller ref of this canary", meta(otherRef, canaryRef("uid-web", true)), true, []metav1.OwnerReference{otherRef}},
		{"controller ref of an earlier canary of the same name", meta(canaryRef("uid-old", true)), false, []metav1.OwnerReference{canaryRef("uid-old", true)}},
		{"non-controller ref of this canary", meta(canaryRef("uid-web", false), otherRef), true, []metav1.OwnerReference{otherRef}},
		{"no refs", meta(), false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := slices.Clone(tc.obj.OwnerReferences)
			shared := tc.obj.OwnerReferences
			if changed := Release(&tc.obj, canary); changed != tc.wantChanged {
				t.Errorf("Release = %v, want %v", changed, tc.wantChanged)
			}
			if !slices.EqualFunc(tc.obj.OwnerReferences, tc.wantRefs, refEqual) {
				t.Errorf("owner references after Release = %v, want %v", tc.obj.OwnerReferences, tc.wantRefs)
			}
			// Callers patch from a copy taken before Release; that copy must not change.
			if !slices.EqualFunc(shared, before, refEqual) {
				t.Errorf("Release changed the caller's slice: %v, was %v", shared, before)
			}
		})
	}
}

func TestCheckManager(t *testing.T) {
	for _, tc := range []struct {
		name    string
		labels  map[string]string
		manager string
		wantErr string
	}{
		{"this canary", map[string]string{LabelCanary: "web"}, "web", ""},
		{"no canary", map[string]string{"app": "web"}, "", ""},
		{"no labels", nil, "", ""},
		{"another canary", map[string]string{LabelCanary: "api"}, "api",
			"VirtualService shop/web is managed by Canary api: give this Canary another spec.service.name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := meta()
			obj.Labels = tc.labels
			if got := ManagedBy(&obj); got != tc.manager {
				t.Errorf("ManagedBy = %q, want %q", got, tc.manager)
			}
			err := CheckManager("VirtualService", &obj, canary, "give this Canary another spec.service.name")
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("CheckManager = %v, want nil", err)
			case tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr):
				t.Errorf("CheckManager = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func refEqual(a, b metav1.OwnerReference) bool {
	return a.UID == b.UID && a.Name == b.Name && a.Kind == b.Kind && ptr.Deref(a.Controller, false) == ptr.Deref(b.Controller, false)
}
