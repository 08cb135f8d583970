package alerts

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// errStale says the Canary moved on under the dispatcher: it was deleted, or the recorded
// progress of the provider is further than what the dispatcher was about to record (another
// process delivered). Nothing is recorded; the item is read again.
var errStale = errors.New("the Canary changed since it was read")

// recordBackoff bounds the re-reads after conflicts: the reconciler writes the status of a
// progressing Canary often, so a few conflicts in a row are normal.
var recordBackoff = wait.Backoff{Steps: 6, Duration: 10 * time.Millisecond, Factor: 2, Jitter: 0.5}

// record writes one provider's progress into the Canary's status with the resourceVersion read
// as a precondition, so that it never overwrites what it did not see. On a conflict it reads
// the Canary again through the APIReader and applies this provider's progress again, a bounded
// number of times; it never lowers a recorded Seq (errStale instead). canary is updated to what
// was written, or to what was read last.
//
// A conflict never causes a send again: when a delivery's record fails for good, owe keeps the
// progress in memory, and the next delivery of the item records it before sending anything.
func (d *Dispatcher) record(ctx context.Context, canary *fledgev1alpha1.Canary, progress fledgev1alpha1.ProviderDelivery, owe bool) error {
	key := client.ObjectKeyFromObject(canary)
	first := true
	err := retry.RetryOnConflict(recordBackoff, func() error {
		if !first {
			fresh := &fledgev1alpha1.Canary{}
			if err := d.APIReader.Get(ctx, key, fresh); err != nil {
				return err
			}
			*canary = *fresh
		}
		first = false
		if recorded := providerProgress(canary.Status.Notifications, progress.Provider); recorded.Seq > progress.Seq {
			return errStale
		} else if recorded == progress {
			return nil
		}
		old := canary.DeepCopy()
		setProgress(canary, progress)
		return d.Client.Status().Patch(ctx, canary, client.MergeFromWithOptions(old, client.MergeFromWithOptimisticLock{}))
	})
	switch {
	case err == nil:
		return nil
	case apierrors.IsNotFound(err), errors.Is(err, errStale):
		return errStale
	}
	if owe {
		d.owed.put(item{Canary: key, Provider: progress.Provider}, progress)
	}
	return fmt.Errorf("record the delivery to %s: %w", progress.Provider, err)
}

// setProgress puts progress in place of its provider's entry.
func setProgress(canary *fledgev1alpha1.Canary, progress fledgev1alpha1.ProviderDelivery) {
	if canary.Status.Notifications == nil {
		canary.Status.Notifications = &fledgev1alpha1.NotificationsStatus{}
	}
	n := canary.Status.Notifications
	for i := range n.Providers {
		if n.Providers[i].Provider == progress.Provider {
			n.Providers[i] = progress
			return
		}
	}
	n.Providers = append(n.Providers, progress)
}

func providerProgress(n *fledgev1alpha1.NotificationsStatus, key string) fledgev1alpha1.ProviderDelivery {
	if n != nil {
		for _, p := range n.Providers {
			if p.Provider == key {
				return p
			}
		}
	}
	return fledgev1alpha1.ProviderDelivery{Provider: key}
}

// owedProgress is the progress of sends whose record failed, by item, until it is recorded.
// It lives in memory only: after a restart, the next leader may send those again (see the
// notifiers package for what each kind of provider does then).
type owedProgress struct {
	mu sync.Mutex
	by map[item]fledgev1alpha1.ProviderDelivery
}

func (o *owedProgress) put(it item, p fledgev1alpha1.ProviderDelivery) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.by == nil {
		o.by = map[item]fledgev1alpha1.ProviderDelivery{}
	}
	if old, ok := o.by[it]; !ok || old.Seq <= p.Seq {
		o.by[it] = p
	}
}

// take removes and returns what is owed for it.
func (o *owedProgress) take(it item) (fledgev1alpha1.ProviderDelivery, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	p, ok := o.by[it]
	delete(o.by, it)
	return p, ok
}
