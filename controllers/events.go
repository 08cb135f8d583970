package controllers

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/controllers/rollout"
)

// recoverEventsWithin bounds how old the last decision's Events may be for a restarted manager
// to create them again: a crash that long ago has been told by other means.
const recoverEventsWithin = 10 * time.Minute

// recordEvents numbers the decision's events into st, to be written with the decision. The
// recorded Events this process has not created yet (after createdUpTo) are kept with them,
// so that a create that failed is tried again.
func recordEvents(st *fledgev1alpha1.CanaryStatus, evs []rollout.Event, now time.Time, createdUpTo int64) {
	if len(evs) == 0 {
		return
	}
	recorded := &fledgev1alpha1.TransitionEvents{}
	if st.Events != nil {
		recorded.Seq = st.Events.Seq
		for _, e := range st.Events.Last {
			if e.Seq > createdUpTo {
				recorded.Last = append(recorded.Last, e)
			}
		}
	}
	for _, e := range evs {
		recorded.Seq++
		kind := corev1.EventTypeNormal
		if e.Warning {
			kind = corev1.EventTypeWarning
		}
		recorded.Last = append(recorded.Last, fledgev1alpha1.RecordedEvent{
			Seq: recorded.Seq, Type: kind, Reason: fledgev1alpha1.Bound(e.Reason, 128), Message: fledgev1alpha1.Bound(e.Message, fledgev1alpha1.MaxEventMessage),
		})
	}
	if over := len(recorded.Last) - fledgev1alpha1.MaxRecordedEvents; over > 0 {
		recorded.Last = recorded.Last[over:]
	}
	recorded.Time = metav1.NewTime(now)
	st.Events = recorded
}

// transitionEvents creates the Kubernetes Events of the transitions once their decision is
// written. Each is named after its Canary and sequence number, so that creating it again is
// refused (AlreadyExists): a manager that restarts creates the last decision's Events again
// when the last of them is missing, in case it crashed between the status and them, and a
// create that failed is tried again at the next reconcile; none is ever doubled.
type transitionEvents struct {
	client client.Client
	// reader reads Events from the API server (they are not cached).
	reader client.Reader
	// controller and instance name the reporter, as the events API asks.
	controller, instance string

	mu sync.Mutex
	// created is, per Canary this process has looked at, the sequence number of the last
	// recorded Event known to exist.
	created map[types.UID]int64
}

// createdUpTo is the sequence number of the Canary's last Event known to exist.
func (t *transitionEvents) createdUpTo(uid types.UID) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.created[uid]
}

func (t *transitionEvents) setCreated(uid types.UID, seq int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.created == nil {
		t.created = map[types.UID]int64{}
	}
	t.created[uid] = seq
}

// sync creates the recorded Events of the Canary that do not exist yet. It reports false when
// one could not be created: look again soon. In the steady state it makes no call.
func (t *transitionEvents) sync(ctx context.Context, canary *fledgev1alpha1.Canary, recorded *fledgev1alpha1.TransitionEvents, now time.Time) bool {
	if recorded == nil || len(recorded.Last) == 0 {
		return true
	}
	t.mu.Lock()
	created, known := t.created[canary.UID]
	t.mu.Unlock()
	if !known {
		// The first look of this process: a recent decision's Events may be missing.
		if now.Sub(recorded.Time.Time) >= recoverEventsWithin {
			t.setCreated(canary.UID, recorded.Seq)
			return true
		}
		last := client.ObjectKey{Namespace: canary.Namespace, Name: eventName(canary, recorded.Last[len(recorded.Last)-1].Seq)}
		switch err := t.reader.Get(ctx, last, &eventsv1.Event{}); {
		case err == nil:
			t.setCreated(canary.UID, recorded.Seq)
			return true
		case !apierrors.IsNotFound(err):
			log.FromContext(ctx).Error(err, "look for the last event")
			return false
		}
	}
	for _, e := range recorded.Last {
		if e.Seq <= created {
			continue
		}
		event := &eventsv1.Event{
			ObjectMeta:          metav1.ObjectMeta{Namespace: canary.Namespace, Name: eventName(canary, e.Seq)},
			EventTime:           metav1.NewMicroTime(recorded.Time.Time),
			ReportingController: t.controller,
			ReportingInstance:   t.instance,
			Action:              "Rollout",
			Reason:              e.Reason,
			Note:                e.Message,
			Type:                e.Type,
			Regarding: corev1.ObjectReference{
				APIVersion: fledgev1alpha1.GroupVersion.String(), Kind: "Canary",
				Namespace: canary.Namespace, Name: canary.Name, UID: canary.UID,
			},
		}
		if err := t.client.Create(ctx, event); err != nil && !apierrors.IsAlreadyExists(err) {
			log.FromContext(ctx).Error(err, "record an event", "reason", e.Reason)
			return false
		}
		created = e.Seq
		t.setCreated(canary.UID, created)
	}
	return true
}

// forget drops a deleted Canary.
func (t *transitionEvents) forget(uid types.UID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.created, uid)
}

// eventName is unique per Canary (its UID) and event.
func eventName(canary *fledgev1alpha1.Canary, seq int64) string {
	uid := string(canary.UID)
	if len(uid) > 8 {
		uid = uid[:8]
	}
	name := canary.Name
	if len(name) > 200 {
		name = strings.TrimRight(name[:200], "-.") // the name stays a DNS subdomain
	}
	return fmt.Sprintf("%s.%s.%d", name, uid, seq)
}
