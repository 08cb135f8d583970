package alerts

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/log"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
	"fledge.dev/fledge/notifiers"
)

// recordOnStop bounds the record of a notification delivered as the dispatcher stops.
const recordOnStop = 5 * time.Second

// fanOut enqueues one item per provider of the Canary. Each item reads the outbox itself, so
// the cache's view of the Canary, which may lag behind its outbox, is enough here.
func (d *Dispatcher) fanOut(ctx context.Context, key types.NamespacedName) error {
	canary := &fledgev1alpha1.Canary{}
	if err := d.Client.Get(ctx, key, canary); apierrors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	for _, t := range TargetsOf(canary, d.DefaultProvider) {
		d.queue.Add(item{Canary: key, Provider: t.Key})
	}
	return nil
}

// deliver sends what one provider of the Canary has not had yet, in order, recording its
// progress after every notification sent.
func (d *Dispatcher) deliver(ctx context.Context, it item) error {
	canary := &fledgev1alpha1.Canary{}
	if err := d.APIReader.Get(ctx, it.Canary, canary); apierrors.IsNotFound(err) {
		d.owed.take(it)
		return nil
	} else if err != nil {
		return err
	}
	target, ok := targetOf(canary, d.DefaultProvider, it.Provider)
	if !ok || canary.Status.Notifications == nil {
		d.owed.take(it) // no longer one of its providers
		return nil
	}
	progress := providerProgress(canary.Status.Notifications, target.Key)
	if owed, ok := d.owed.take(it); ok && owed.Seq > progress.Seq {
		// Sent before, but not recorded: record it, never send it again.
		progress = owed
		if err := d.record(ctx, canary, progress, true); err != nil {
			return err
		}
	}
	var pending []fledgev1alpha1.OutboxEntry
	for _, e := range canary.Status.Notifications.Outbox {
		if e.Seq > progress.Seq {
			pending = append(pending, e)
		}
	}
	if len(pending) == 0 {
		return nil
	}
	sender, err := d.sender(ctx, canary, target, progress)
	var notShared *notSharedError
	if err != nil && !errors.As(err, &notShared) && d.Clock.Since(pending[0].Time.Time) < d.Retry.GiveUpAfter {
		// Perhaps passing (the AlertProvider not in the cache yet, the API server busy): the
		// queue retries with backoff until the notification is as old as the retry bound.
		return err
	}
	skipped := false
	for _, entry := range pending {
		n := notification(canary, entry, d.ClusterName)
		switch {
		case err != nil:
			d.failed(canary, target, &progress, err)
		case !notifiers.Allows(target.Severity, n):
			// Not for this provider: recorded with the next notification sent, or at the end.
			progress.Seq, progress.Attempts, skipped = entry.Seq, 0, true
			continue
		default:
			// send records the progress, the notifications skipped before it included.
			if err := d.send(ctx, it, canary, target, &progress, entry, n, sender); err != nil {
				return err
			}
			skipped = false
			continue
		}
		progress.Seq, progress.Attempts = entry.Seq, 0
		if err := d.record(ctx, canary, progress, false); err != nil {
			return err
		}
		skipped = false
	}
	if skipped {
		return d.record(ctx, canary, progress, false)
	}
	return nil
}

// send delivers one notification with retries and records the outcome. The Fence is asked
// right before the first attempt and before every retry; when it refuses, nothing is sent or
// recorded. Retries are counted in fledge_notifications_retried_total and shown in the
// provider's status (attempts) as they happen.
func (d *Dispatcher) send(ctx context.Context, it item, canary *fledgev1alpha1.Canary, target Target, progress *fledgev1alpha1.ProviderDelivery,
	entry fledgev1alpha1.OutboxEntry, n notifiers.Notification, sender notifiers.Sender) error {
	var thread *notifiers.Thread
	if progress.RolloutID == entry.RolloutID && progress.TS != "" {
		thread = &notifiers.Thread{Channel: progress.Channel, TS: progress.TS}
	}
	// Tries recorded before (the process stopped, or the Fence refused, while retrying it).
	before := progress.Attempts
	retry := notifiers.BeforeRetry(func(ctx context.Context, attempt int, last error) error {
		if err := d.checkFence(ctx); err != nil {
			return err
		}
		retriesTotal.WithLabelValues(target.Key).Inc()
		shown := *progress
		shown.Attempts = before + int32(attempt)
		if err := d.record(ctx, canary, shown, false); errors.Is(err, errStale) {
			return err // delivered by someone else: stop
		} else if err != nil {
			log.FromContext(ctx).V(1).Info("could not show the retry in status", "provider", target.Key, "error", err.Error())
		} else {
			progress.Attempts = shown.Attempts
		}
		return nil
	})

	if err := d.checkFence(ctx); err != nil {
		return err
	}
	if err := d.acquireCall(it); err != nil {
		return err
	}
	if before > 0 {
		retriesTotal.WithLabelValues(target.Key).Inc()
	}
	t, sendErr := notifiers.Deliver(ctx, sender, n, thread, d.Retry, retry)
	d.releaseCall(it.Provider)
	if t != nil {
		progress.RolloutID, progress.Channel, progress.TS = entry.RolloutID, t.Channel, t.TS
	}
	var fenced *fencedError
	switch {
	case errors.As(sendErr, &fenced), errors.Is(sendErr, errStale):
		return sendErr
	case sendErr != nil && ctx.Err() != nil:
		// Shutting down is not giving up: the next leader delivers it.
		return ctx.Err()
	case sendErr != nil:
		d.failed(canary, target, progress, sendErr)
	default:
		sentTotal.WithLabelValues(target.Key).Inc()
	}
	progress.Seq, progress.Attempts = entry.Seq, 0
	recordCtx := ctx
	if ctx.Err() != nil {
		// Delivered as we stop: record it still, briefly, so that it is not sent again.
		var cancel context.CancelFunc
		recordCtx, cancel = context.WithTimeout(context.WithoutCancel(ctx), recordOnStop)
		defer cancel()
	}
	if err := d.record(recordCtx, canary, *progress, true); err != nil {
		return err
	}
	return ctx.Err()
}

func (d *Dispatcher) failed(canary *fledgev1alpha1.Canary, target Target, progress *fledgev1alpha1.ProviderDelivery, err error) {
	progress.Failures++
	progress.LastError = err.Error()
	failedTotal.WithLabelValues(target.Key).Inc()
	d.Events.Eventf(canary, nil, corev1.EventTypeWarning, "NotificationFailed", "Notify",
		"a notification to AlertProvider %s was given up: %v", target.Key, err)
}

// targetOf is the Target of provider among the Canary's, if it is still one of them. A provider
// named twice is told once, at the most talkative of its severities.
func targetOf(canary *fledgev1alpha1.Canary, defaultProvider, provider string) (Target, bool) {
	var found *Target
	for _, t := range TargetsOf(canary, defaultProvider) {
		if t.Key != provider {
			continue
		}
		if found == nil || moreTalkative(t.Severity, found.Severity) {
			found = &t
		}
	}
	if found == nil {
		return Target{}, false
	}
	return *found, true
}

// moreTalkative: a provider of severity a receives more than one of severity b.
func moreTalkative(a, b notifiers.Severity) bool {
	warn := notifiers.Notification{Kind: notifiers.Halted}
	return (notifiers.Allows(a, warn) && !notifiers.Allows(b, warn)) ||
		(a != b && notifiers.Allows(a, notifiers.Notification{Kind: notifiers.Started}))
}

// notification renders an outbox entry for the notifiers, with the Canary's latest metrics.
func notification(canary *fledgev1alpha1.Canary, e fledgev1alpha1.OutboxEntry, cluster string) notifiers.Notification {
	n := notifiers.Notification{
		ID: fmt.Sprintf("%s.%d", canary.UID, e.Seq), RolloutID: string(canary.UID) + "." + e.RolloutID,
		Kind: notifiers.Kind(e.Kind), Cluster: cluster, Namespace: canary.Namespace, Canary: canary.Name,
		Revision: e.Revision, Phase: string(e.Phase), Message: e.Message,
		Weight: e.Weight, Step: e.Step, Steps: e.Steps, FailedChecks: e.FailedChecks, Threshold: e.Threshold,
		Time: e.Time.Time,
	}
	if e.RolloutID == "" {
		n.RolloutID = string(canary.UID) + ".setup"
	}
	for _, r := range canary.Status.History {
		if r.ID == e.RolloutID && e.RolloutID != "" {
			n.Started = r.StartTime.Time
		}
	}
	ranges := map[string]*fledgev1alpha1.ThresholdRange{}
	for _, m := range canary.Spec.Analysis.Metrics {
		ranges[m.Name] = m.ThresholdRange
	}
	for _, m := range canary.Status.Metrics {
		metric := notifiers.Metric{Name: m.Name, Value: m.Value, Primary: m.PrimaryValue, Verdict: m.Verdict}
		if r := ranges[m.Name]; r != nil {
			metric.Min, metric.Max = r.Min, r.Max
		}
		n.Metrics = append(n.Metrics, metric)
	}
	return n
}
