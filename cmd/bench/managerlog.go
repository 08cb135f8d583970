package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
)

// logSummary counts what the manager's log says about trouble.
type logSummary struct {
	lines      int
	errors     int // level error, Reconciler error included
	conflicts  int // optimistic-concurrency conflicts, whatever the level
	throttling int // client-go's "client-side throttling" notes
	// topErrors are the most frequent error messages, most frequent first.
	topErrors []countedMessage
	readErr   error
}

type countedMessage struct {
	message string
	count   int
}

// scanManagerLog reads the manager's JSON log (zap's production format, one object a line).
func scanManagerLog(path string) logSummary {
	var s logSummary
	f, err := os.Open(path)
	if err != nil {
		s.readErr = err
		return s
	}
	defer f.Close()
	byMessage := map[string]int{}
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for scanner.Scan() {
		line := scanner.Text()
		s.lines++
		if strings.Contains(line, "the object has been modified") || strings.Contains(line, `"reason":"Conflict"`) {
			s.conflicts++
		}
		if strings.Contains(line, "client-side throttling") {
			s.throttling++
		}
		var entry struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Error string `json:"error"`
		}
		if json.Unmarshal([]byte(line), &entry) != nil || entry.Level != "error" {
			continue
		}
		s.errors++
		// One line per kind of error, whichever app it was about.
		byMessage[shorten(appName.ReplaceAllString(entry.Msg+": "+entry.Error, "app-N"), 160)]++
	}
	s.readErr = scanner.Err()
	for msg, n := range byMessage {
		s.topErrors = append(s.topErrors, countedMessage{msg, n})
	}
	slices.SortFunc(s.topErrors, func(a, b countedMessage) int {
		return cmp.Or(cmp.Compare(b.count, a.count), strings.Compare(a.message, b.message))
	})
	s.topErrors = s.topErrors[:min(3, len(s.topErrors))]
	return s
}

// scanManagerLogs sums the summaries of several replicas' logs.
func scanManagerLogs(paths []string) logSummary {
	var all logSummary
	counts := map[string]int{}
	for _, p := range paths {
		s := scanManagerLog(p)
		all.lines += s.lines
		all.errors += s.errors
		all.conflicts += s.conflicts
		all.throttling += s.throttling
		all.readErr = cmp.Or(all.readErr, s.readErr)
		for _, m := range s.topErrors {
			counts[m.message] += m.count
		}
	}
	for msg, n := range counts {
		all.topErrors = append(all.topErrors, countedMessage{msg, n})
	}
	slices.SortFunc(all.topErrors, func(a, b countedMessage) int {
		return cmp.Or(cmp.Compare(b.count, a.count), strings.Compare(a.message, b.message))
	})
	all.topErrors = all.topErrors[:min(3, len(all.topErrors))]
	return all
}

var appName = regexp.MustCompile(`app-[0-9]+`)

// shorten cuts s to about n bytes.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
