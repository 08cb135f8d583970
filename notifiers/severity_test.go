package notifiers

import "testing"

func TestKindSeverity(t *testing.T) {
	want := map[Kind]Severity{
		Started: SeverityInfo, Restarted: SeverityInfo, Cancelled: SeverityInfo, Advanced: SeverityInfo,
		Promoting: SeverityInfo, Promoted: SeverityInfo, RequestAccepted: SeverityInfo,
		Waiting: SeverityWarn, Halted: SeverityWarn, RequestRejected: SeverityWarn,
		Aborted:              SeverityError,
		Kind("SomethingNew"): SeverityInfo,
	}
	for kind, sev := range want {
		if got := kind.Severity(); got != sev {
			t.Errorf("%s.Severity() = %s, want %s", kind, got, sev)
		}
	}
}

func TestAllowsFiltersBySeverity(t *testing.T) {
	kinds := []Kind{Started, Advanced, Waiting, Halted, Promoting, Promoted, Aborted, RequestAccepted, RequestRejected}
	want := map[Severity][]Kind{
		SeverityInfo:  kinds,
		SeverityWarn:  {Waiting, Halted, Aborted, RequestRejected},
		SeverityError: {Aborted},
		"":            kinds, // unset: nothing is silently dropped
	}
	for provider, allowed := range want {
		for _, kind := range kinds {
			expected := false
			for _, a := range allowed {
				expected = expected || a == kind
			}
			if got := Allows(provider, note(kind, "id")); got != expected {
				t.Errorf("Allows(%q, %s) = %v, want %v", provider, kind, got, expected)
			}
		}
	}
}

func TestParseSeverity(t *testing.T) {
	for in, want := range map[string]Severity{"": SeverityInfo, "info": SeverityInfo, "warn": SeverityWarn, "error": SeverityError} {
		if got, err := ParseSeverity(in); err != nil || got != want {
			t.Errorf("ParseSeverity(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseSeverity("warning"); err == nil {
		t.Error(`ParseSeverity("warning") accepted an unknown severity`)
	}
}
