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

// scanManagerLog reads the managers' JSON logs (zap's production format, one object a
// line), one per replica, into one summary.
func scanManagerLog(paths ...string) logSummary {
	var s logSummary
	byMessage := map[string]int{}
	for _, path := range paths {
		s.readErr = cmp.Or(s.readErr, scanOneLog(path, &s, byMessage))
	}
	for msg, n := range byMessage {
		s.topErrors = append(s.topErrors, countedMessage{msg, n})
	}
	slices.SortFunc(s.topErrors, func(a, b countedMessage) int {
		return cmp.Or(cmp.Compare(b.count, a.count), strings.Compare(a.message, b.message))
	})
	s.topErrors = s.topErrors[:min(3, len(s.topErrors))]
	return s
}

// scanOneLog adds what one log says to s, and its error messages to byMessage.
func scanOneLog(path string, s *logSummary, byMessage map[string]int) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
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
	return scanner.Err()
}

var appName = regexp.MustCompile(`app-[0-9]+`)

// shorten cuts s to about n bytes.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
