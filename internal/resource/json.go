package resource

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strconv"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// jsonWriter converts a YAML node tree to JSON for the protobuf and
// Kubernetes decoders. Converting from the already-parsed tree (rather than
// re-parsing the text with another YAML library) guarantees that the
// decoders see exactly what the schema walk checked.
//
// The output is a single line of pure ASCII, so a decoder's error column
// is a byte offset; marks map offsets back to field paths and lines.
type jsonWriter struct {
	buf   bytes.Buffer
	marks []jsonMark
	edits *jsonEdits
}

// jsonEdits are the schema walk's corrections to the JSON: keys to leave
// out (removed fields that are only warned about) and scalars to write
// differently (durations in Go syntax, normalized for protojson).
type jsonEdits struct {
	dropped  map[*yaml.Node]bool
	replaced map[*yaml.Node]string
}

func (e *jsonEdits) drop(key *yaml.Node) {
	if e.dropped == nil {
		e.dropped = make(map[*yaml.Node]bool)
	}
	e.dropped[key] = true
}

func (e *jsonEdits) replace(n *yaml.Node, s string) {
	if e.replaced == nil {
		e.replaced = make(map[*yaml.Node]string)
	}
	e.replaced[n] = s
}

type jsonMark struct {
	off  int
	path string
	line int
}

func (w *jsonWriter) mark(path string, n *yaml.Node) {
	w.marks = append(w.marks, jsonMark{off: w.buf.Len(), path: path, line: n.Line})
}

// locate returns the mark at or before a byte offset in the output.
func (w *jsonWriter) locate(off int) (jsonMark, bool) {
	i := sort.Search(len(w.marks), func(i int) bool { return w.marks[i].off > off })
	if i == 0 {
		return jsonMark{}, false
	}
	return w.marks[i-1], true
}

func (w *jsonWriter) value(n *yaml.Node, path string, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("document nests deeper than %d levels", maxDepth)
	}
	w.mark(path, n)
	n = resolve(n)
	if n == nil {
		w.buf.WriteString("null")
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		w.buf.WriteByte('{')
		first := true
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := resolve(n.Content[i])
			if k == nil || k.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: mapping keys must be strings", n.Content[i].Line)
			}
			if w.edits != nil && w.edits.dropped[k] {
				continue
			}
			if !first {
				w.buf.WriteByte(',')
			}
			first = false
			p := JoinKey(path, k.Value)
			w.mark(p, k)
			writeJSONString(&w.buf, k.Value)
			w.buf.WriteByte(':')
			if err := w.value(n.Content[i+1], p, depth+1); err != nil {
				return err
			}
		}
		w.buf.WriteByte('}')
	case yaml.SequenceNode:
		w.buf.WriteByte('[')
		for i, item := range n.Content {
			if i > 0 {
				w.buf.WriteByte(',')
			}
			if err := w.value(item, JoinIndex(path, i), depth+1); err != nil {
				return err
			}
		}
		w.buf.WriteByte(']')
	case yaml.ScalarNode:
		return w.scalar(n)
	default:
		return fmt.Errorf("line %d: unsupported YAML node", n.Line)
	}
	return nil
}

func (w *jsonWriter) scalar(n *yaml.Node) error {
	if w.edits != nil {
		if s, ok := w.edits.replaced[n]; ok {
			writeJSONString(&w.buf, s)
			return nil
		}
	}
	switch n.ShortTag() {
	case nullTag:
		w.buf.WriteString("null")
	case boolTag:
		var b bool
		if err := n.Decode(&b); err != nil {
			return err
		}
		w.buf.WriteString(strconv.FormatBool(b))
	case intTag, floatTag:
		var v any
		if err := n.Decode(&v); err != nil {
			return err
		}
		w.number(v)
	default:
		writeJSONString(&w.buf, n.Value)
	}
	return nil
}

// number writes a YAML number. JSON has no infinities or NaN; protobuf's
// JSON mapping spells them as strings, so they are written that way.
func (w *jsonWriter) number(v any) {
	switch x := v.(type) {
	case int:
		w.buf.WriteString(strconv.FormatInt(int64(x), 10))
	case int64:
		w.buf.WriteString(strconv.FormatInt(x, 10))
	case uint64:
		w.buf.WriteString(strconv.FormatUint(x, 10))
	case float64:
		switch {
		case math.IsNaN(x):
			w.buf.WriteString(`"NaN"`)
		case math.IsInf(x, 1):
			w.buf.WriteString(`"Infinity"`)
		case math.IsInf(x, -1):
			w.buf.WriteString(`"-Infinity"`)
		default:
			w.buf.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
		}
	default:
		writeJSONString(&w.buf, fmt.Sprint(x))
	}
}

// writeJSONString writes s as a JSON string using only ASCII: everything
// outside printable ASCII is a \u escape (surrogate pairs above U+FFFF).
func writeJSONString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	u := func(r rune) {
		b.WriteString(`\u`)
		b.WriteByte(hex[r>>12&0xf])
		b.WriteByte(hex[r>>8&0xf])
		b.WriteByte(hex[r>>4&0xf])
		b.WriteByte(hex[r&0xf])
	}
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r >= 0x20 && r < 0x7f:
			b.WriteByte(byte(r))
		case r > 0xffff:
			r -= 0x10000
			u(0xd800 + (r >> 10))
			u(0xdc00 + (r & 0x3ff))
		default:
			u(r) // control characters, non-ASCII, and RuneError for bad UTF-8
		}
	}
	b.WriteByte('"')
}
