package resource

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// chunk is the text between two "---" separator lines. Files are split
// before parsing so that a syntax error in one document does not hide the
// documents after it: the YAML parser cannot resume after an error.
type chunk struct {
	data []byte
	// firstLine is the 1-based line in the file where data starts.
	firstLine int
}

// splitDocuments cuts a file at lines that start with the "---" document
// marker. The marker line stays at the head of its chunk so that anything
// written after it ("--- {a: 1}", "--- !tag") is still parsed and line
// numbers inside a chunk only need an offset. A marker at column 0 cannot
// occur inside a scalar (the YAML spec forbids it), so this is exact.
func splitDocuments(data []byte) []chunk {
	var chunks []chunk
	start, startLine, line := 0, 1, 1
	for off := 0; off < len(data); {
		end := bytes.IndexByte(data[off:], '\n')
		next := len(data)
		if end >= 0 {
			next = off + end + 1
		}
		if off > start && isDocumentMarker(data[off:next]) {
			chunks = append(chunks, chunk{data: data[start:off], firstLine: startLine})
			start, startLine = off, line
		}
		off = next
		line++
	}
	if start < len(data) {
		chunks = append(chunks, chunk{data: data[start:], firstLine: startLine})
	}
	return chunks
}

func isDocumentMarker(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("---")) {
		return false
	}
	if len(line) == 3 {
		return true
	}
	switch line[3] {
	case ' ', '\t', '\r', '\n':
		return true
	}
	return false
}

// parseChunk parses the documents of one chunk (normally one; more only if
// the chunk uses "..." end markers). Node lines are shifted so that they
// are lines of the whole file. Empty documents are dropped.
func parseChunk(c chunk) (docs []*yaml.Node, err error) {
	defer func() {
		// The parser is third-party code fed with untrusted input; a panic
		// there must become a diagnostic rather than take the gateway down.
		if r := recover(); r != nil {
			err = fmt.Errorf("YAML parser failed: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(c.data))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				return docs, nil
			}
			return docs, err
		}
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		shiftLines(root, c.firstLine-1)
		if root.Kind == yaml.ScalarNode && root.ShortTag() == nullTag {
			continue // a document holding only comments
		}
		docs = append(docs, root)
	}
}

// shiftLines adds offset to the line of every node. It follows Content
// only, never Alias, so each node is visited exactly once even when
// aliases form cycles.
func shiftLines(root *yaml.Node, offset int) {
	if offset == 0 {
		return
	}
	stack := []*yaml.Node{root}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n.Line += offset
		stack = append(stack, n.Content...)
	}
}

var yamlErrLine = regexp.MustCompile(`^line (\d+): `)

// parserProblems are the messages of the YAML parser (as opposed to its
// scanner). The library prints their line 0-based, scanner lines 1-based.
var parserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// syntaxError turns a parser error into a message and a file line. When
// the library gives no line (it omits line 1, and encoding errors never
// have one), the line is worked out here where possible.
func syntaxError(c chunk, err error) (line int, msg string) {
	line = c.firstLine
	msg = strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlErrLine.FindStringSubmatch(msg); m != nil {
		msg = msg[len(m[0]):]
		n, _ := strconv.Atoi(m[1])
		if parserProblems[msg] {
			n++
		}
		// Errors at the end of input point one line past it.
		line = c.firstLine - 1 + min(max(n, 1), lineCount(c.data))
	} else if n, ok := badCharLine(c.data); ok {
		line = c.firstLine - 1 + n
	}
	return line, "YAML syntax error: " + msg
}

// lineCount is the number of lines in data, counting an unterminated
// last line.
func lineCount(data []byte) int {
	n := bytes.Count(data, []byte("\n"))
	if len(data) > 0 && data[len(data)-1] != '\n' {
		n++
	}
	return max(n, 1)
}

// badCharLine finds the line of the first byte the YAML reader refuses:
// invalid UTF-8 or a control character other than tab and line breaks.
func badCharLine(data []byte) (int, bool) {
	line := 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		bad := (r == utf8.RuneError && size <= 1) ||
			(r < 0x20 && r != '\t' && r != '\n' && r != '\r') ||
			(r >= 0x7f && r < 0xa0 && r != 0x85) ||
			(r >= 0xd800 && r < 0xe000) || r == 0xfffe || r == 0xffff
		if bad {
			return line, true
		}
		if r == '\n' {
			line++
		}
		i += size
	}
	return 0, false
}
