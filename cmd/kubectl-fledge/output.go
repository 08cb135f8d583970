package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/term"
	"k8s.io/apimachinery/pkg/util/duration"
)

// style says how to draw for the output at hand: colours and block bars on a terminal, plain
// text (no ANSI escapes) in pipes, files and logs.
type style struct {
	terminal bool
}

// styleFor draws in colour only on a terminal, and never when NO_COLOR is set (no-color.org).
func styleFor(out io.Writer) style {
	f, ok := out.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return style{}
	}
	return style{terminal: term.IsTerminal(int(f.Fd()))}
}

// ANSI colours.
const (
	red    = "31"
	green  = "32"
	yellow = "33"
	blue   = "34"
	grey   = "90"
	bold   = "1"
)

func (s style) paint(colour, text string) string {
	if !s.terminal || text == "" {
		return text
	}
	return "\x1b[" + colour + "m" + text + "\x1b[0m"
}

// weightBar draws the split of traffic between the primary and the canary.
func (s style) weightBar(canaryWeight int32, width int) string {
	canaryWeight = max(0, min(100, canaryWeight))
	canaryCells := int(math.Round(float64(canaryWeight) * float64(width) / 100))
	primaryCells := width - canaryCells
	var bar string
	if s.terminal {
		bar = s.paint(blue, strings.Repeat("█", primaryCells)) + s.paint(yellow, strings.Repeat("█", canaryCells))
	} else {
		bar = "[" + strings.Repeat("#", primaryCells) + strings.Repeat("-", canaryCells) + "]"
	}
	return fmt.Sprintf("primary %3d%% %s %3d%% canary", 100-canaryWeight, bar, canaryWeight)
}

// phase colours a phase by how it is going.
func (s style) phase(p string) string {
	switch p {
	case "Succeeded":
		return s.paint(green, p)
	case "Failed":
		return s.paint(red, p)
	case "Progressing", "Promoting", "Queued":
		return s.paint(yellow, p)
	}
	return p
}

// verdictMark is ✓ for a passing check, ✗ for a failing one, … for one without a verdict.
func (s style) verdictMark(verdict string) string {
	switch verdict {
	case "Pass":
		return s.paint(green, "✓")
	case "Fail":
		return s.paint(red, "✗")
	}
	return s.paint(yellow, "…")
}

// table lays out rows in columns separated by two spaces. Cells may carry ANSI colours:
// widths count what shows. The last column is not padded.
type table struct {
	rows [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer, indent string) {
	var widths []int
	for _, row := range t.rows {
		for i, cell := range row {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], visibleWidth(cell))
		}
	}
	for _, row := range t.rows {
		var line strings.Builder
		line.WriteString(indent)
		for i, cell := range row {
			line.WriteString(cell)
			if i < len(row)-1 {
				line.WriteString(strings.Repeat(" ", widths[i]-visibleWidth(cell)+2))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(line.String(), " "))
	}
}

// visibleWidth is the number of characters of text that show, ANSI escapes left out.
func visibleWidth(text string) int {
	n, escaped := 0, false
	for _, r := range text {
		switch {
		case r == '\x1b':
			escaped = true
		case escaped:
			escaped = r != 'm'
		default:
			n++
		}
	}
	return n
}

// age is how long ago t was, the way kubectl says it ("5s", "3m20s", "2d").
func age(t, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t))
}

// truncate shortens text to at most n characters, marking the cut with "…".
func truncate(text string, n int) string {
	if utf8.RuneCountInString(text) <= n {
		return text
	}
	runes := []rune(text)
	return string(runes[:n-1]) + "…"
}

// number prints a metric value with at most two decimals.
func number(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}
