package workload

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

func TestCopiesNeverMatchTheTargetSelector(t *testing.T) {
	target := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "tier": "front"}}
	for _, role := range []Role{Primary, Canary} {
		podLabels, selector, err := PodLabels(map[string]string{"app": "web", "tier": "front", "team": "a"}, target, "web", role)
		if err != nil {
			t.Fatal(err)
		}
		if podLabels["app"] != "web-"+string(role) || podLabels["team"] != "a" {
			t.Errorf("%s labels: %v", role, podLabels)
		}
		targetSel, err := metav1.LabelSelectorAsSelector(target)
		if err != nil {
			t.Fatal(err)
		}
		if targetSel.Matches(labels.Set(podLabels)) {
			t.Errorf("the target's selector matches the %s pods", role)
		}
		own, err := metav1.LabelSelectorAsSelector(selector)
		if err != nil {
			t.Fatal(err)
		}
		if !own.Matches(labels.Set(podLabels)) {
			t.Errorf("the %s selector does not match its own pods", role)
		}
		other := Primary
		if role == Primary {
			other = Canary
		}
		// An error would leave otherLabels empty, which no selector matches: the check below
		// would then pass without comparing anything.
		otherLabels, _, err := PodLabels(map[string]string{"app": "web"}, target, "web", other)
		if err != nil {
			t.Fatal(err)
		}
		if otherLabels["app"] != "web-"+string(other) {
			t.Fatalf("%s labels: %v", other, otherLabels)
		}
		if own.Matches(labels.Set(otherLabels)) {
			t.Errorf("the %s selector matches the %s pods", role, other)
		}
	}
}

func TestASelectorThatWouldClaimTheCopiesIsRefused(t *testing.T) {
	// Only a NotIn expression: rewriting matchLabels cannot make the copies disjoint.
	target := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"db"}}}}
	if _, _, err := PodLabels(map[string]string{"app": "web"}, target, "web", Primary); err == nil {
		t.Fatal("want an error that says the selector would select the copy")
	}
}

func TestOriginalLabelsUndoPodLabels(t *testing.T) {
	target := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	original := map[string]string{"app": "web", "version": "2"}
	copied, _, err := PodLabels(original, target, "web", Canary)
	if err != nil {
		t.Fatal(err)
	}
	back := originalLabels(copied, target, Canary)
	if len(back) != 2 || back["app"] != "web" || back["version"] != "2" {
		t.Errorf("got %v, want %v", back, original)
	}
}
