package main

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// followCanary calls onChange with each new state of the canary after start, until onChange
// says it is done, returns an error, or ctx ends. It watches (no polling) from start's
// resourceVersion, so no change in between is missed, and re-opens the watch when the server
// closes it.
func (s *session) followCanary(ctx context.Context, start *fledgev1alpha1.Canary, onChange func(*fledgev1alpha1.Canary) (bool, error)) error {
	name, resourceVersion := start.Name, start.ResourceVersion
	for {
		w, err := s.client.Watch(ctx, &fledgev1alpha1.CanaryList{}, client.InNamespace(s.namespace), &client.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("metadata.name", name),
			Raw:           &metav1.ListOptions{ResourceVersion: resourceVersion, AllowWatchBookmarks: true},
		})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !expired(err) {
				return fmt.Errorf("watch canary %s in namespace %s: %w", name, s.namespace, err)
			}
			// The server forgot that version: start again from the current state.
			if resourceVersion, err = s.refresh(ctx, name, onChange); err != nil || resourceVersion == "" {
				return err
			}
			continue
		}
		next, done, err := drainCanaryWatch(w, name, resourceVersion, onChange)
		w.Stop()
		switch {
		case done || err != nil:
			return err
		case ctx.Err() != nil:
			return ctx.Err()
		case next == "":
			if resourceVersion, err = s.refresh(ctx, name, onChange); err != nil || resourceVersion == "" {
				return err
			}
		default:
			resourceVersion = next
		}
	}
}

// drainCanaryWatch hands each event of w to onChange. It returns the last resourceVersion
// seen (from, when none; "" when the server said it expired) and whether onChange is done.
func drainCanaryWatch(w watch.Interface, name, from string, onChange func(*fledgev1alpha1.Canary) (bool, error)) (string, bool, error) {
	last := from
	for event := range w.ResultChan() {
		switch event.Type {
		case watch.Added, watch.Modified:
			canary, ok := event.Object.(*fledgev1alpha1.Canary)
			if !ok {
				continue
			}
			last = canary.ResourceVersion
			if done, err := onChange(canary); done || err != nil {
				return last, done, err
			}
		case watch.Bookmark:
			if m, err := meta.Accessor(event.Object); err == nil {
				last = m.GetResourceVersion()
			}
		case watch.Deleted:
			return last, false, fmt.Errorf("canary %s was deleted", name)
		case watch.Error:
			err := apierrors.FromObject(event.Object)
			if expired(err) {
				return "", false, nil
			}
			return last, false, fmt.Errorf("watch canary %s: %w", name, err)
		}
	}
	return last, false, nil
}

// refresh reads the canary afresh after its watch expired and hands it to onChange. It
// returns the version to watch from, or "" when onChange is done.
func (s *session) refresh(ctx context.Context, name string, onChange func(*fledgev1alpha1.Canary) (bool, error)) (string, error) {
	canary, err := s.getCanary(ctx, name)
	if err != nil {
		return "", err
	}
	if done, err := onChange(canary); done || err != nil {
		return "", err
	}
	return canary.ResourceVersion, nil
}

func expired(err error) bool { return apierrors.IsResourceExpired(err) || apierrors.IsGone(err) }

// watchEventsOf sends a signal on the returned channel each time an event about the canary is
// recorded or updated, until ctx ends. It gives up quietly (the channel never fires) when the
// account may not watch events: the views then show the events as of each canary change.
func (s *session) watchEventsOf(ctx context.Context, canary *fledgev1alpha1.Canary) <-chan struct{} {
	changed := make(chan struct{}, 1)
	go func() {
		for ctx.Err() == nil {
			w, err := s.client.Watch(ctx, &corev1.EventList{}, client.InNamespace(canary.Namespace), &client.ListOptions{
				FieldSelector: eventSelector(canary),
				Raw:           &metav1.ListOptions{ResourceVersion: "0"},
			})
			if err != nil {
				return
			}
			for range w.ResultChan() {
				select {
				case changed <- struct{}{}:
				default: // a signal is pending already
				}
			}
			w.Stop()
		}
	}()
	return changed
}
