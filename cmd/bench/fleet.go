package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// fleet is the manager replicas of a run: one, or several sharing the Canaries in shards,
// of which one may be killed during the rollouts.
type fleet struct {
	replicas []*managerProcess
	memory   []*memorySampler

	mu sync.Mutex
	// killed is the replica killed (-1: none); lastOfKilled, its metrics just before, so
	// that the totals keep what it did.
	killed       int
	killedAt     time.Time
	lastOfKilled metrics
}

func startFleet(opts options, kubeconfig, outDir string) (*fleet, error) {
	f := &fleet{killed: -1}
	for i := range opts.replicas {
		m, err := startManager(opts, kubeconfig, outDir, i)
		if err != nil {
			return f, errors.Join(err, f.stop(30*time.Second))
		}
		f.replicas = append(f.replicas, m)
		f.memory = append(f.memory, startMemorySampler(m.Pid()))
	}
	return f, nil
}

// stop stops every replica still running.
func (f *fleet) stop(timeout time.Duration) error {
	var errs []error
	for i, m := range f.replicas {
		f.memory[i].stop()
		if i != f.killedReplica() {
			errs = append(errs, m.Stop(timeout))
		}
	}
	return errors.Join(errs...)
}

func (f *fleet) killedReplica() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.killed
}

func (f *fleet) waitServing(ctx context.Context, timeout time.Duration) error {
	for _, m := range f.replicas {
		if err := m.waitServing(ctx, timeout); err != nil {
			return err
		}
	}
	return nil
}

// running fails when a replica that was not killed has stopped.
func (f *fleet) running() error {
	killed := f.killedReplica()
	for i, m := range f.replicas {
		if i == killed {
			continue
		}
		if err := m.Running(); err != nil {
			return fmt.Errorf("manager replica %d: %w", i, err)
		}
	}
	return nil
}

// scrape reads the metrics of every replica, the killed one's as they were before it died:
// counters and histograms add up across replicas.
func (f *fleet) scrape(ctx context.Context) (metrics, error) {
	f.mu.Lock()
	killed, all := f.killed, metrics{}
	all.add(f.lastOfKilled)
	f.mu.Unlock()
	for i, m := range f.replicas {
		if i == killed {
			continue
		}
		one, err := m.scrape(ctx)
		if err != nil {
			return nil, fmt.Errorf("manager replica %d: %w", i, err)
		}
		all.add(one)
	}
	return all, nil
}

// killAfter kills the first replica (SIGKILL, not restarted) d after triggered, unless ctx
// ends first.
func (f *fleet) killAfter(ctx context.Context, triggered time.Time, d time.Duration) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(time.Until(triggered.Add(d))):
	}
	m := f.replicas[0]
	last, err := m.scrape(ctx)
	if err != nil {
		fmt.Printf("bench: scrape replica 0 before killing it: %v (its requests go uncounted)\n", err)
	}
	f.mu.Lock()
	f.killed, f.killedAt, f.lastOfKilled = 0, time.Now(), last
	f.mu.Unlock()
	m.Kill()
	fmt.Printf("bench: killed manager replica 0 (pid %d) %s after the change of the targets\n", m.Pid(), since(triggered))
}

// peakRSSKB is the largest peak of any replica.
func (f *fleet) peakRSSKB() int64 {
	var peak int64
	for _, s := range f.memory {
		peak = max(peak, s.peakKB())
	}
	return peak
}

// sampleNow is the largest replica's memory now (the killed one's as it last was).
func (f *fleet) sampleNow() memoryReading {
	var largest memoryReading
	for _, s := range f.memory {
		if r := s.sampleNow(); r.rssKB > largest.rssKB {
			largest = r
		}
	}
	return largest
}

// logs are the replicas' log files.
func (f *fleet) logs() []string {
	var paths []string
	for _, m := range f.replicas {
		paths = append(paths, m.logPath)
	}
	return paths
}
