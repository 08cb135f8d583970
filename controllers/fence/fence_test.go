package fence_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"net/http"
	"net/http/httptest"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"fledge.dev/fledge/controllers/fence"
)

// lock is a resourcelock.Interface in memory.
type lock struct {
	id     string
	record *resourcelock.LeaderElectionRecord
	fail   error
}

func (l *lock) Get(context.Context) (*resourcelock.LeaderElectionRecord, []byte, error) {
	if l.record == nil {
		return nil, nil, apierrors.NewNotFound(corev1.Resource("leases"), "fledge.dev")
	}
	return l.record, nil, nil
}
func (l *lock) Create(_ context.Context, r resourcelock.LeaderElectionRecord) error { return l.set(r) }
func (l *lock) Update(_ context.Context, r resourcelock.LeaderElectionRecord) error { return l.set(r) }
func (l *lock) set(r resourcelock.LeaderElectionRecord) error {
	if l.fail != nil {
		return l.fail
	}
	l.record = &r
	return nil
}
func (l *lock) RecordEvent(string) {}
func (l *lock) Identity() string   { return l.id }
func (l *lock) Describe() string   { return "fledge-system/fledge.dev" }

func TestLeaseFencesUntilAcquiredAndAfterItLapses(t *testing.T) {
	ctx := context.Background()
	l := &fence.Lease{Interface: &lock{id: "me"}, Valid: time.Hour}
	if err := l.Check(ctx); err == nil {
		t.Fatal("a manager that never held the lease passed the fence")
	}
	if err := l.Create(ctx, resourcelock.LeaderElectionRecord{HolderIdentity: "me"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Check(ctx); err != nil {
		t.Fatalf("the leader, just renewed, was fenced: %v", err)
	}

	lapsing := &fence.Lease{Interface: &lock{id: "me"}, Valid: time.Millisecond}
	if err := lapsing.Update(ctx, resourcelock.LeaderElectionRecord{HolderIdentity: "me"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // a freeze longer than the lease is valid
	err := lapsing.Check(ctx)
	if err == nil || !strings.Contains(err.Error(), "another may lead now") {
		t.Fatalf("a leader that did not renew within its lease passed the fence: %v", err)
	}
}

func TestLeaseForgetsARenewalThatFailedOrWasAnotherHolders(t *testing.T) {
	ctx := context.Background()
	inner := &lock{id: "me"}
	l := &fence.Lease{Interface: inner, Valid: time.Hour}
	if err := l.Update(ctx, resourcelock.LeaderElectionRecord{HolderIdentity: "me"}); err != nil {
		t.Fatal(err)
	}
	// Releasing the lease (the elector writes an empty holder) ends the leadership at once.
	if err := l.Update(ctx, resourcelock.LeaderElectionRecord{HolderIdentity: ""}); err != nil {
		t.Fatal(err)
	}
	if l.Check(ctx) == nil {
		t.Fatal("a released lease passed the fence")
	}
	inner.fail = errors.New("conflict")
	if l.Update(ctx, resourcelock.LeaderElectionRecord{HolderIdentity: "me"}) == nil || l.Check(ctx) == nil {
		t.Fatal("a renewal the API server refused counted as one")
	}
}

type refuse struct{}

func (refuse) Check(context.Context) error { return errors.New("not the leader") }

// The fenced transport lets reads through and stops writes before they leave the process.
func TestTransportRefusesWritesOutsideTheFenceAndReadsPass(t *testing.T) {
	var reached []string
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = append(reached, r.Method)
	}))
	defer server.Close()
	c := &http.Client{Transport: fence.WrapTransport(refuse{})(http.DefaultTransport)}
	for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		req, _ := http.NewRequest(method, server.URL+"/apis/fledge.dev/v1alpha1/canaries", nil)
		resp, err := c.Do(req)
		if resp != nil {
			resp.Body.Close()
		}
		if method == http.MethodGet {
			if err != nil {
				t.Errorf("a read was fenced: %v", err)
			}
		} else if err == nil || !strings.Contains(err.Error(), "not the leader") {
			t.Errorf("%s passed a fence that refuses: %v", method, err)
		}
	}
	if len(reached) != 1 || reached[0] != http.MethodGet {
		t.Errorf("the API saw %v, want only the read", reached)
	}
	// A standby replica still authenticates its metrics scrapers.
	review, _ := http.NewRequest(http.MethodPost, server.URL+"/apis/authentication.k8s.io/v1/tokenreviews", nil)
	if resp, err := c.Do(review); err != nil {
		t.Errorf("a TokenReview was fenced: %v", err)
	} else {
		resp.Body.Close()
	}
}
