package main

import (
	"context"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// eventsOf lists the events about the canary, oldest first. Fledge records them through
// events.k8s.io/v1; the core/v1 view of the same objects is read here because it can be
// filtered by the object they regard on the server. It returns (nil, false) when the account
// may not list events: views go on without them.
func (s *session) eventsOf(ctx context.Context, canary *fledgev1alpha1.Canary) ([]corev1.Event, bool, error) {
	var list corev1.EventList
	err := s.client.List(ctx, &list, client.InNamespace(canary.Namespace), client.MatchingFieldsSelector{Selector: eventSelector(canary)})
	if apierrors.IsForbidden(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var events []corev1.Event
	for _, e := range list.Items {
		// A canary deleted and created again under the same name is another object.
		if e.InvolvedObject.UID == "" || e.InvolvedObject.UID == canary.UID {
			events = append(events, e)
		}
	}
	sort.SliceStable(events, func(i, j int) bool {
		ti, tj := firstSeen(&events[i]), firstSeen(&events[j])
		if ti.Equal(tj) {
			return events[i].Name < events[j].Name
		}
		return ti.Before(tj)
	})
	return events, true, nil
}

func eventSelector(canary *fledgev1alpha1.Canary) fields.Selector {
	return fields.SelectorFromSet(fields.Set{
		"involvedObject.kind": "Canary",
		"involvedObject.name": canary.Name,
	})
}

// firstSeen is when the event first happened, whichever API recorded it.
func firstSeen(e *corev1.Event) time.Time {
	switch {
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

// lastSeen is when the event last happened (events that repeat form a series).
func lastSeen(e *corev1.Event) time.Time {
	t := firstSeen(e)
	if e.Series != nil && e.Series.LastObservedTime.After(t) {
		t = e.Series.LastObservedTime.Time
	}
	if e.LastTimestamp.After(t) {
		t = e.LastTimestamp.Time
	}
	return t
}

// lastEvents returns the n most recent events, oldest first.
func lastEvents(events []corev1.Event, n int) []corev1.Event {
	recent := append([]corev1.Event(nil), events...)
	sort.SliceStable(recent, func(i, j int) bool { return lastSeen(&recent[i]).Before(lastSeen(&recent[j])) })
	if len(recent) > n {
		recent = recent[len(recent)-n:]
	}
	return recent
}
