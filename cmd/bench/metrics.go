package main

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// metrics are the samples of one scrape of the Prometheus text format, by metric name.
type metrics map[string][]metricSample

type metricSample struct {
	labels map[string]string
	value  float64
}

// parseMetrics reads the Prometheus text exposition format; comments and timestamps are
// skipped. A small parser of our own keeps the bench free of new module requirements.
func parseMetrics(r io.Reader) (metrics, error) {
	out := metrics{}
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, s, err := parseSampleLine(line)
		if err != nil {
			return nil, fmt.Errorf("parse the metrics line %q: %w", line, err)
		}
		out[name] = append(out[name], s)
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("read the metrics: %w", err)
	}
	return out, nil
}

func parseSampleLine(line string) (string, metricSample, error) {
	s := metricSample{labels: map[string]string{}}
	end := strings.IndexAny(line, "{ ")
	if end < 0 {
		return "", s, fmt.Errorf("no value")
	}
	name, rest := line[:end], line[end:]
	if strings.HasPrefix(rest, "{") {
		var err error
		if rest, err = parseLabels(rest[1:], s.labels); err != nil {
			return "", s, err
		}
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return "", s, fmt.Errorf("no value")
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return "", s, fmt.Errorf("value: %w", err)
	}
	s.value = v
	return name, s, nil
}

// parseLabels reads `a="x",b="y"}` into labels and returns what follows the brace.
func parseLabels(s string, labels map[string]string) (string, error) {
	for {
		s = strings.TrimLeft(s, " ,")
		if strings.HasPrefix(s, "}") {
			return s[1:], nil
		}
		eq := strings.Index(s, "=\"")
		if eq < 0 {
			return "", fmt.Errorf("label without a quoted value")
		}
		key := strings.TrimSpace(s[:eq])
		s = s[eq+2:]
		var value strings.Builder
		closed := false
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c == '\\' && i+1 < len(s) {
				i++
				switch s[i] {
				case 'n':
					value.WriteByte('\n')
				default:
					value.WriteByte(s[i])
				}
				continue
			}
			if c == '"' {
				s, closed = s[i+1:], true
				break
			}
			value.WriteByte(c)
		}
		if !closed {
			return "", fmt.Errorf("unterminated label value")
		}
		labels[key] = value.String()
	}
}

// where selects samples whose labels have the given values (pairs of name, value).
func where(pairs ...string) func(map[string]string) bool {
	return func(labels map[string]string) bool {
		for i := 0; i+1 < len(pairs); i += 2 {
			if labels[pairs[i]] != pairs[i+1] {
				return false
			}
		}
		return true
	}
}

// add puts the samples of other into m: the series of several replicas, which sum and the
// histograms add up.
func (m metrics) add(other metrics) {
	for name, samples := range other {
		m[name] = append(m[name], samples...)
	}
}

// sum adds the values of the samples of name that match.
func (m metrics) sum(name string, match func(map[string]string) bool) float64 {
	total := 0.0
	for _, s := range m[name] {
		if match == nil || match(s.labels) {
			total += s.value
		}
	}
	return total
}

// sumBy adds the values of the samples of name, grouped by one label.
func (m metrics) sumBy(name, label string, match func(map[string]string) bool) map[string]float64 {
	out := map[string]float64{}
	for _, s := range m[name] {
		if match == nil || match(s.labels) {
			out[s.labels[label]] += s.value
		}
	}
	return out
}

// delta is after − before for each key of after.
func delta(before, after map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range after {
		out[k] = v - before[k]
	}
	return out
}

// histogramDelta is a histogram's change between two scrapes: bucket counts by upper bound,
// and the change of its sum and count.
type histogramDelta struct {
	buckets    map[float64]float64 // cumulative, as exposed
	sum, count float64
}

func histogramChange(before, after metrics, name string, match func(map[string]string) bool) histogramDelta {
	h := histogramDelta{buckets: map[float64]float64{}}
	for le, n := range delta(before.sumBy(name+"_bucket", "le", match), after.sumBy(name+"_bucket", "le", match)) {
		bound, err := strconv.ParseFloat(le, 64)
		if err != nil {
			continue
		}
		h.buckets[bound] = n
	}
	h.sum = after.sum(name+"_sum", match) - before.sum(name+"_sum", match)
	h.count = after.sum(name+"_count", match) - before.sum(name+"_count", match)
	return h
}

// quantileBound is the upper bound of the bucket that holds quantile q: the true value is at
// most this (buckets are coarse, so this is a bound, not an estimate).
func (h histogramDelta) quantileBound(q float64) float64 {
	if h.count <= 0 {
		return math.NaN()
	}
	for _, b := range slices.Sorted(maps.Keys(h.buckets)) {
		if h.buckets[b] >= q*h.count {
			return b
		}
	}
	return math.Inf(1)
}

func (h histogramDelta) mean() float64 {
	if h.count <= 0 {
		return math.NaN()
	}
	return h.sum / h.count
}
