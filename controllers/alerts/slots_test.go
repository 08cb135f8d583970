package alerts

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

// A provider at its bound lines its items up once each, and every slot given back goes to the
// item that waited longest; another provider's slots are its own.
func TestSlotsHandOutInTheOrderItemsWaited(t *testing.T) {
	var s slots
	at := func(name string) item {
		return item{Canary: types.NamespacedName{Namespace: "ns", Name: name}, Provider: "ns/p"}
	}
	if !s.acquireOrWait("ns/p", 2, at("a")) || !s.acquireOrWait("ns/p", 2, at("b")) {
		t.Fatal("the first two calls of a provider with a bound of 2 were refused")
	}
	for _, name := range []string{"c", "d", "c", "e"} {
		if s.acquireOrWait("ns/p", 2, at(name)) {
			t.Fatalf("%s got a third slot of a provider bound to 2", name)
		}
	}
	if !s.acquireOrWait("ns/q", 2, item{Provider: "ns/q"}) {
		t.Error("another provider waits for this one's slots")
	}

	var handed []string
	for range 5 {
		next, ok := s.release("ns/p")
		if !ok {
			break
		}
		handed = append(handed, next.Canary.Name)
		if !s.acquireOrWait("ns/p", 2, next) {
			t.Fatalf("%s was handed a slot and could not take it", next.Canary.Name)
		}
	}
	if got, want := handed, []string{"c", "d", "e"}; !slices.Equal(got, want) {
		t.Errorf("slots went to %v, want %v: in the order they waited, each once", got, want)
	}
	// The last release found no one waiting: one slot is free again.
	if s.held["ns/p"] != 1 {
		t.Errorf("the provider holds %d slots, want 1", s.held["ns/p"])
	}
}
