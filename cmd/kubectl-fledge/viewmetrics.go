package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// writeMetrics lists every check of the spec with its last result against the range that
// passes; results of checks no longer in the spec follow.
func (v canaryView) writeMetrics(w io.Writer) {
	c, st := v.canary, v.style
	results := map[string]fledgev1alpha1.MetricStatus{}
	var measured time.Time
	for _, m := range c.Status.Metrics {
		results[m.Name] = m
		if m.MeasuredAt.After(measured) {
			measured = m.MeasuredAt.Time
		}
	}
	if len(c.Spec.Analysis.Metrics) == 0 && len(results) == 0 {
		return
	}
	header := "Metrics:"
	if !measured.IsZero() {
		header = "Metrics (measured " + age(measured, v.now) + " ago):"
	}
	fmt.Fprintln(w, header)
	t := &table{}
	seen := map[string]bool{}
	for i := range c.Spec.Analysis.Metrics {
		spec := &c.Spec.Analysis.Metrics[i]
		seen[spec.Name] = true
		result, ok := results[spec.Name]
		if !ok {
			t.add(st.verdictMark(""), spec.Name, "-", metricRange(spec), "not measured yet")
			continue
		}
		t.add(st.verdictMark(result.Verdict), spec.Name, metricValue(result), metricRange(spec), metricNote(result))
	}
	for _, result := range c.Status.Metrics {
		if !seen[result.Name] {
			t.add(st.verdictMark(result.Verdict), result.Name, metricValue(result), "(no longer in the spec)", metricNote(result))
		}
	}
	t.write(w, "  ")
}

func metricValue(m fledgev1alpha1.MetricStatus) string {
	text := "-"
	if m.Value != nil {
		text = number(*m.Value)
	}
	if m.PrimaryValue != nil {
		text += " (primary " + number(*m.PrimaryValue) + ")"
	}
	return text
}

// metricNote is the verdict, the message and the statistics of a result.
func metricNote(m fledgev1alpha1.MetricStatus) string {
	parts := []string{m.Verdict}
	if m.Requests != nil {
		parts = append(parts, fmt.Sprintf("%d requests", *m.Requests))
	}
	if m.PValue != nil {
		parts = append(parts, fmt.Sprintf("p=%.3g", *m.PValue))
	}
	if m.EffectSize != nil {
		parts = append(parts, "effect "+number(*m.EffectSize))
	}
	note := strings.Join(parts, ", ")
	if m.Message != "" {
		note += ": " + m.Message
	}
	return note
}

// metricRange says which values pass a check.
func metricRange(m *fledgev1alpha1.CanaryMetric) string {
	var parts []string
	if r := m.ThresholdRange; r != nil {
		switch {
		case r.Min != nil && r.Max != nil:
			parts = append(parts, number(*r.Min)+".."+number(*r.Max))
		case r.Min != nil:
			parts = append(parts, "≥ "+number(*r.Min))
		case r.Max != nil:
			parts = append(parts, "≤ "+number(*r.Max))
		}
	}
	if p := m.CompareToPrimary; p != nil {
		if p.MaxIncrease != nil {
			parts = append(parts, "≤ primary + "+number(*p.MaxIncrease))
		}
		if p.MaxIncreasePercent != nil {
			parts = append(parts, "≤ primary + "+number(*p.MaxIncreasePercent)+"%")
		}
		if p.MaxDecrease != nil {
			parts = append(parts, "≥ primary - "+number(*p.MaxDecrease))
		}
		if p.MaxDecreasePercent != nil {
			parts = append(parts, "≥ primary - "+number(*p.MaxDecreasePercent)+"%")
		}
		if s := p.Statistical; s != nil {
			parts = append(parts, fmt.Sprintf("no significant %s vs primary (confidence %s, effect ≤ %s)",
				strings.ToLower(s.Direction), number(s.Confidence), number(s.MaxEffectSize)))
		}
	}
	if m.MinRequests != nil {
		parts = append(parts, fmt.Sprintf("needs %d requests", *m.MinRequests))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}
