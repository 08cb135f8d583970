package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"fledge.dev/fledge/test/cluster"
	"fledge.dev/fledge/test/istiometrics"
)

// checkStack is what the built-in checks query with -metrics: a real Prometheus scraping
// simulated Istio traffic for every app's primary and canary.
type checkStack struct {
	exporter *istiometrics.Exporter
	prom     *cluster.Prometheus
}

// scrapeInterval is slower than the tests' second: the series of thousands of workloads.
const scrapeInterval = 5 * time.Second

func startCheckStack(ctx context.Context, keys []types.NamespacedName) (*checkStack, error) {
	exporter, err := istiometrics.StartExporter()
	if err != nil {
		return nil, fmt.Errorf("start the traffic exporter: %w", err)
	}
	healthy := istiometrics.Traffic{RequestsPerSecond: 2, Latency: 20 * time.Millisecond}
	for _, k := range keys {
		exporter.Set(k.Namespace, k.Name+"-primary", healthy)
		exporter.Set(k.Namespace, k.Name+"-canary", healthy)
	}
	prom, err := cluster.StartPrometheus(ctx, cluster.PrometheusOptions{Targets: []string{exporter.Address}, ScrapeInterval: scrapeInterval})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("start Prometheus: %w", err), exporter.Stop())
	}
	return &checkStack{exporter: exporter, prom: prom}, nil
}

func (s *checkStack) stop() error {
	if s == nil {
		return nil
	}
	perr := s.prom.Stop()
	if err := s.exporter.Stop(); err != nil {
		return err
	}
	return perr
}
