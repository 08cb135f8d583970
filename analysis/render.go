package analysis

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
)

// Limits of rendering a MetricTemplate's query. A template is user input: nested loops, a
// template that calls itself, or printf with a huge width could take the manager's memory
// or time on every check, and on every restart.
const (
	// MaxRenderedQuery bounds what a template renders to.
	MaxRenderedQuery = 64 << 10
	// MaxRenderTime bounds how long rendering may take.
	MaxRenderTime = time.Second
	// maxRangeDepth bounds nested ranges: over .Variables (at most 32) that is 32² runs of the
	// body at most.
	maxRangeDepth = 2
	// maxFormatWidth bounds the width and precision of a printf verb.
	maxFormatWidth = 256
)

// errRenderLimit marks a template refused for what rendering it would cost.
var errRenderLimit = errors.New("over the limits of a query template")

// renderQuery renders a MetricTemplate's query. Unknown variables are errors, so that a typo
// fails loudly instead of querying for an empty label.
func renderQuery(text string, d QueryData) (string, error) {
	budget := &renderBudget{left: MaxRenderedQuery}
	t, err := template.New("query").Option("missingkey=error").Funcs(budget.funcs()).Parse(text)
	if err != nil {
		return "", fmt.Errorf("parse the query template: %w", err)
	}
	if err := checkTemplate(t); err != nil {
		return "", fmt.Errorf("%w: %v", errRenderLimit, err)
	}
	out := &limitedBuffer{max: MaxRenderedQuery}
	done := make(chan error, 1)
	go func() { done <- t.Execute(out, d) }()
	select {
	case err := <-done:
		if errors.Is(err, errTooLong) {
			return "", fmt.Errorf("%w: the query renders to more than %d bytes", errRenderLimit, MaxRenderedQuery)
		}
		if err != nil {
			return "", fmt.Errorf("render the query template: %w", err)
		}
	case <-time.After(MaxRenderTime):
		// What the checks above let through is bounded; this is the last guard.
		return "", fmt.Errorf("%w: rendering took over %s", errRenderLimit, MaxRenderTime)
	}
	return out.String(), nil
}

// checkTemplate refuses what could make rendering unbounded: templates that call templates
// (recursion), ranges over anything but .Variables, ranges nested deeper than maxRangeDepth.
func checkTemplate(t *template.Template) error {
	for _, tt := range t.Templates() {
		if tt.Name() != "query" {
			return fmt.Errorf("define and block are not allowed (template %q)", tt.Name())
		}
	}
	if t.Tree == nil {
		return nil
	}
	return walk(t.Tree.Root, 0)
}

func walk(node parse.Node, depth int) error {
	switch n := node.(type) {
	case nil:
		return nil
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := walk(c, depth); err != nil {
				return err
			}
		}
	case *parse.TemplateNode:
		return fmt.Errorf("{{template %q}} is not allowed", n.Name)
	case *parse.RangeNode:
		if depth+1 > maxRangeDepth {
			return fmt.Errorf("ranges nest at most %d deep", maxRangeDepth)
		}
		if !overVariables(n.Pipe) {
			return fmt.Errorf("range only over .Variables, not %s", n.Pipe)
		}
		if err := walk(n.List, depth+1); err != nil {
			return err
		}
		return walk(n.ElseList, depth)
	case *parse.IfNode:
		if err := walk(n.List, depth); err != nil {
			return err
		}
		return walk(n.ElseList, depth)
	case *parse.WithNode:
		if err := walk(n.List, depth); err != nil {
			return err
		}
		return walk(n.ElseList, depth)
	}
	return nil
}

// overVariables is whether a range's pipeline is .Variables or $.Variables.
func overVariables(p *parse.PipeNode) bool {
	if p == nil || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return false
	}
	switch a := p.Cmds[0].Args[0].(type) {
	case *parse.FieldNode:
		return len(a.Ident) == 1 && a.Ident[0] == "Variables"
	case *parse.VariableNode:
		return len(a.Ident) == 2 && a.Ident[0] == "$" && a.Ident[1] == "Variables"
	}
	return false
}

// formatWidth finds the widths and precisions of printf verbs ("%0999999d", "%.300f").
var formatWidth = regexp.MustCompile(`%[-+# 0]*(\d+)?(?:\.(\d*))?`)

// renderBudget bounds the bytes the string functions of one render may produce, whether
// written out or kept in a variable ({{$a = print $a $a}} doubles without writing anything):
// each call is charged before it formats, from its arguments' sizes.
type renderBudget struct {
	left int
}

func (b *renderBudget) funcs() template.FuncMap {
	// An escaper grows its input at most sixfold ("<" to "\u003c"); print and println add a
	// separator per argument.
	plain := func(f func(...any) string, growth int) func(...any) (string, error) {
		return func(args ...any) (string, error) {
			if err := b.charge(growth*argsSize(args) + len(args)); err != nil {
				return "", err
			}
			return f(args...), nil
		}
	}
	return template.FuncMap{
		"printf":   b.printf,
		"print":    plain(fmt.Sprint, 1),
		"println":  plain(fmt.Sprintln, 1),
		"html":     plain(template.HTMLEscaper, 6),
		"js":       plain(template.JSEscaper, 6),
		"urlquery": plain(template.URLQueryEscaper, 6),
	}
}

// charge takes n bytes from the budget, or refuses when there are not so many left.
func (b *renderBudget) charge(n int) error {
	if n > b.left {
		return fmt.Errorf("%w: the query's functions would produce more than %d bytes", errRenderLimit, MaxRenderedQuery)
	}
	b.left -= n
	return nil
}

// printf is fmt.Sprintf with widths and precisions bounded and no width or precision taken
// from the arguments: fmt allocates whatever it is asked for before any limit could refuse it.
func (b *renderBudget) printf(format string, args ...any) (string, error) {
	if strings.Contains(format, "*") {
		return "", fmt.Errorf("%w: printf widths given as arguments (*) are not allowed", errRenderLimit)
	}
	verbs, widest := 0, 0
	for _, m := range formatWidth.FindAllStringSubmatch(format, -1) {
		verbs++
		for _, w := range m[1:] {
			n, err := strconv.Atoi(w)
			if w != "" && (err != nil || n > maxFormatWidth) {
				return "", fmt.Errorf("%w: printf widths and precisions go up to %d", errRenderLimit, maxFormatWidth)
			}
			widest = max(widest, n)
		}
	}
	// Each verb may print any argument (explicit indexes reuse them), padded to its width.
	largest := 0
	for _, a := range args {
		largest = max(largest, len(fmt.Sprint(a)))
	}
	if err := b.charge(len(format) + verbs*(max(largest, widest)+maxFormatWidth)); err != nil {
		return "", err
	}
	return fmt.Sprintf(format, args...), nil
}

func argsSize(args []any) int {
	n := 0
	for _, a := range args {
		n += len(fmt.Sprint(a))
	}
	return n
}

var errTooLong = errors.New("the output is too long")

// limitedBuffer refuses writes past max bytes, which stops the template.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		return 0, errTooLong
	}
	return b.Buffer.Write(p)
}
