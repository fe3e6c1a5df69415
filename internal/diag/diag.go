// Package diag holds the user-facing findings produced while reading and
// compiling configuration. A Diagnostic always names where the problem is
// (file and line, or cluster/namespace/name), which object and which field,
// so an operator can jump straight to it.
package diag

import (
	"fmt"
	"sort"
	"strings"
)

// Severity says whether a finding stops an object from being applied.
type Severity int

const (
	// Warning findings are reported; the object still goes live.
	Warning Severity = iota
	// Error findings drop the offending object (or the whole reload when
	// the input cannot be read at all).
	Error
)

func (s Severity) String() string {
	if s == Error {
		return "error"
	}
	return "warning"
}

// MarshalText renders the severity by name in JSON dumps.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Origin says where an object or a field came from.
type Origin struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	// Source names a non-file origin, for example "kube:cluster1".
	Source string `json:"source,omitempty"`
}

func (o Origin) String() string {
	switch {
	case o.File != "" && o.Line > 0:
		return fmt.Sprintf("%s:%d", o.File, o.Line)
	case o.File != "":
		return o.File
	case o.Source != "":
		return o.Source
	}
	return "<input>"
}

// Diagnostic is one finding about the configuration.
type Diagnostic struct {
	Severity Severity `json:"severity"`
	// Code is a stable identifier for the kind of finding, e.g. "MG0101".
	Code   string `json:"code,omitempty"`
	Origin Origin `json:"origin"`
	// Kind, Namespace and Name identify the object; empty for problems that
	// precede decoding (unreadable YAML).
	Kind      string `json:"kind,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
	// Field is the path inside the object, e.g. "spec.http[0].route[1].weight".
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

// String renders the diagnostic as
// "file:line: Kind namespace/name: field: message".
func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(d.Origin.String())
	b.WriteString(": ")
	if d.Severity == Warning {
		b.WriteString("warning: ")
	}
	if d.Kind != "" {
		b.WriteString(d.Kind)
		b.WriteByte(' ')
		if d.Namespace != "" {
			b.WriteString(d.Namespace)
			b.WriteByte('/')
		}
		b.WriteString(d.Name)
		b.WriteString(": ")
	}
	if d.Field != "" {
		b.WriteString(d.Field)
		b.WriteString(": ")
	}
	b.WriteString(d.Message)
	if d.Hint != "" {
		b.WriteString(" (hint: ")
		b.WriteString(d.Hint)
		b.WriteByte(')')
	}
	return b.String()
}

// List is an ordered collection of diagnostics.
type List []Diagnostic

// HasErrors reports whether any diagnostic is an Error.
func (l List) HasErrors() bool {
	for _, d := range l {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// Errors returns only the Error diagnostics.
func (l List) Errors() List {
	var out List
	for _, d := range l {
		if d.Severity == Error {
			out = append(out, d)
		}
	}
	return out
}

// Sort orders diagnostics by file, line, field and message so output is
// deterministic.
func (l List) Sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.Origin.File != b.Origin.File {
			return a.Origin.File < b.Origin.File
		}
		if a.Origin.Line != b.Origin.Line {
			return a.Origin.Line < b.Origin.Line
		}
		if a.Field != b.Field {
			return a.Field < b.Field
		}
		return a.Message < b.Message
	})
}

// Error makes a List usable as an error value.
func (l List) Error() string {
	lines := make([]string, len(l))
	for i, d := range l {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}
