package resource

import (
	"fmt"
	"slices"
	"strings"

	"github.com/meshgate/meshgate/internal/diag"
	"go.yaml.in/yaml/v3"
)

// DecodeFile decodes every document of a multi-document YAML (or JSON)
// file and appends the objects to into. name is used in diagnostics.
//
// Documents of kinds the gateway does not use are counted in into.Ignored.
// A document with any error is dropped entirely and the others still
// decode, so one typo cannot take down unrelated routes. The returned
// diagnostics name the file, line, object and field of each problem.
func DecodeFile(name string, data []byte, into *Bundle) diag.List {
	var diags diag.List
	for _, c := range splitDocuments(data) {
		docs, err := parseChunk(c)
		for _, root := range docs {
			// Without aliases a document cannot have more nodes than
			// bytes; the floor leaves room for ordinary alias use.
			budget := max(maxNodes, len(c.data))
			diags = append(diags, decodeDocument(name, root, into, &budget, false)...)
		}
		if err != nil {
			line, msg := syntaxError(c, err)
			diags = append(diags, diag.Diagnostic{
				Severity: diag.Error,
				Code:     CodeSyntax,
				Origin:   diag.Origin{File: name, Line: line},
				Message:  msg,
			})
		}
	}
	return diags
}

// objectDecoder carries the state of decoding one object: its identity for
// diagnostics, the field line index being built, and the limits that keep
// hostile input (deep nesting, alias bombs) cheap to reject.
type objectDecoder struct {
	meta   Meta
	diags  diag.List
	errors int
	// budget is the number of nodes left to visit. The items of a List
	// share their document's budget, so aliases cannot multiply it.
	budget *int
	// failed stops further checking once a limit is exceeded.
	failed bool
	// expanding holds the anchors being expanded, to catch an alias
	// that refers to a node containing itself.
	expanding map[*yaml.Node]bool
	// edits adjust the JSON handed to the decoders (see jsonEdits).
	edits jsonEdits
	// clusterScoped is set for kinds without a namespace.
	clusterScoped bool
}

// Limits on a single document. Real configuration is far below them; they
// exist so that "a: &a [*a, *a, ...]" style input cannot exhaust memory.
const (
	maxDepth = 100
	// maxNodes is the least number of nodes a document may expand to; a
	// larger document may have as many nodes as it has bytes.
	maxNodes = 1 << 18
	// maxErrors caps the findings per object: beyond that they are noise,
	// and an alias repeating one mistake could otherwise multiply it.
	maxErrors = 50
)

// errorf reports an error about field, located at node n (or at the
// object when n is nil).
func (d *objectDecoder) errorf(code string, n *yaml.Node, field, hint, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.errorAt(code, line, field, hint, fmt.Sprintf(format, args...))
}

func (d *objectDecoder) errorAt(code string, line int, field, hint, msg string) {
	if d.failed {
		return
	}
	d.errors++
	if d.errors > maxErrors {
		d.failed = true
		d.report(diag.Error, CodeTooComplex, 0, "", "", fmt.Sprintf("too many errors (more than %d); stopped checking this object", maxErrors))
		return
	}
	d.report(diag.Error, code, line, field, hint, msg)
}

// warnf reports a finding that does not stop the object from loading.
func (d *objectDecoder) warnf(code string, n *yaml.Node, field, hint, format string, args ...any) {
	if len(d.diags) >= maxErrors {
		return // the same bound as for errors, for the same reason
	}
	d.report(diag.Warning, code, n.Line, field, hint, fmt.Sprintf(format, args...))
}

func (d *objectDecoder) report(sev diag.Severity, code string, line int, field, hint, msg string) {
	o := d.meta.Origin
	if line > 0 {
		o.Line = line
	}
	d.diags = append(d.diags, diag.Diagnostic{
		Severity:  sev,
		Code:      code,
		Origin:    o,
		Kind:      d.meta.Kind,
		Namespace: d.meta.Namespace,
		Name:      d.meta.Name,
		Field:     field,
		Message:   msg,
		Hint:      hint,
	})
}

// topLevelKeys are the keys an object may carry. status is accepted
// because objects exported from a cluster have one; it is not read.
var topLevelKeys = []string{"apiVersion", "kind", "metadata", "spec", "status"}

// decodeDocument decodes one parsed document, or an item of a List, into
// b. The items of a List share the List's node budget.
func decodeDocument(file string, root *yaml.Node, b *Bundle, budget *int, inList bool) diag.List {
	d := &objectDecoder{
		meta:   Meta{Origin: diag.Origin{File: file, Line: root.Line}},
		budget: budget,
	}
	root = resolve(root)
	if root == nil || root.Kind != yaml.MappingNode {
		d.errorf(CodeNotObject, root, "", "", "expected an object with apiVersion, kind, metadata and spec, got %s", describe(root))
		return d.diags
	}
	apiVersion, okV := d.typeField(root, "apiVersion")
	kind, okK := d.typeField(root, "kind")
	if !okV || !okK {
		return d.diags
	}
	group, version := splitAPIVersion(apiVersion)
	if kind == "List" && group == "" && version == "v1" && !inList {
		return d.decodeList(file, root, b)
	}
	d.meta.APIVersion, d.meta.Kind = apiVersion, kind
	info, known := lookupKind(group, kind)
	if !known {
		if b.Ignored == nil {
			b.Ignored = make(map[string]int)
		}
		b.Ignored[apiVersion+"/"+kind]++
		return nil
	}

	d.clusterScoped = info.clusterScoped
	d.decodeMeta(root)
	if !info.supports(version) {
		_, v := mappingValue(root, "apiVersion")
		d.errorf(CodeUnsupportedVersion, v, "apiVersion", "",
			"apiVersion %q is not supported for %s (supported: %s)", apiVersion, kind, info.apiVersions())
		return d.diags
	}
	d.meta.Fields = make(map[string]int)
	d.index(root, "", 0)
	if d.errors > 0 {
		return d.diags
	}
	allowed := topLevelKeys
	if info.topLevel != nil {
		allowed = info.topLevel
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := resolve(root.Content[i])
		if !slices.Contains(allowed, k.Value) {
			d.errorf(CodeUnknownField, k, JoinKey("", k.Value), suggest(k.Value, allowed),
				"unknown field %q", k.Value)
		}
	}
	_, spec := mappingValue(root, "spec")
	if info.topLevel != nil {
		spec = root
	}
	if isNull(spec) && info.specRequired {
		d.errorf(CodeMissingField, root, "spec", "", "spec is required")
	}
	if d.errors > 0 {
		return d.diags
	}
	info.decode(d, spec, b)
	return d.diags
}

// typeField reads apiVersion or kind, which must be non-empty strings.
func (d *objectDecoder) typeField(root *yaml.Node, key string) (string, bool) {
	_, v := mappingValue(root, key)
	v = resolve(v)
	switch {
	case v == nil:
		d.errorf(CodeNotObject, root, key, "", "%s is missing; every document must have apiVersion and kind", key)
	case !isStringy(v):
		d.errorf(CodeNotObject, v, key, "", "%s must be a string, got %s", key, describe(v))
	case v.Value == "":
		d.errorf(CodeNotObject, v, key, "", "%s is empty", key)
	default:
		return v.Value, true
	}
	return "", false
}

// decodeList expands a "kind: List" document, as written by
// "kubectl get -o yaml", into its items.
func (d *objectDecoder) decodeList(file string, root *yaml.Node, b *Bundle) diag.List {
	_, items := mappingValue(root, "items")
	items = resolve(items)
	if isNull(items) {
		return nil
	}
	if items.Kind != yaml.SequenceNode {
		d.errorf(CodeInvalidValue, items, "items", "", "expected a list, got %s", describe(items))
		return d.diags
	}
	for _, item := range items.Content {
		if *d.budget <= 0 {
			d.errorf(CodeTooComplex, item, "items", "", "list expands too many aliases")
			break
		}
		*d.budget--
		d.diags = append(d.diags, decodeDocument(file, item, b, d.budget, true)...)
	}
	return d.diags
}

// index records the line of every field path below n in d.meta.Fields and
// rejects what JSON cannot represent: duplicate keys, non-scalar keys and
// merge keys. Aliases are followed; the path keeps the alias's line.
func (d *objectDecoder) index(n *yaml.Node, path string, depth int) {
	if d.failed {
		return
	}
	*d.budget--
	if *d.budget < 0 || depth > maxDepth {
		d.errorf(CodeTooComplex, n, shorten(path), "", "document is too deeply nested (limit %d) or expands too many aliases", maxDepth)
		d.failed = true
		return
	}
	if n.Kind == yaml.AliasNode {
		target := resolve(n)
		if d.expanding[target] {
			d.errorf(CodeTooComplex, n, shorten(path), "", "alias *%s refers to a node that contains it", n.Value)
			d.failed = true
			return
		}
		if d.expanding == nil {
			d.expanding = make(map[*yaml.Node]bool)
		}
		d.expanding[target] = true
		defer delete(d.expanding, target)
		n = target
	}
	if n == nil {
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		seen := make(map[string]*yaml.Node, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := resolve(n.Content[i])
			if k == nil || k.Kind != yaml.ScalarNode {
				d.errorf(CodeSyntax, n.Content[i], path, "", "mapping keys must be strings, got %s", describe(k))
				continue
			}
			if k.ShortTag() == mergeTag {
				d.errorf(CodeSyntax, k, path, "write the fields out instead", "YAML merge keys (<<) are not supported")
				continue
			}
			p := JoinKey(path, k.Value)
			if first, dup := seen[k.Value]; dup {
				d.errorf(CodeDuplicateKey, k, p, "", "duplicate key %q (first set on line %d)", k.Value, first.Line)
				continue
			}
			seen[k.Value] = k
			d.meta.Fields[p] = k.Line
			d.index(n.Content[i+1], p, depth+1)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			p := JoinIndex(path, i)
			d.meta.Fields[p] = item.Line
			d.index(item, p, depth+1)
		}
	}
}

// findField locates a path reported by a decoder that may leave out list
// indices ("spec.ports.port"): the exact path if written, else the first
// written path that matches it without indices, else spec.
func (d *objectDecoder) findField(path string) (string, int) {
	if line, ok := d.meta.Fields[path]; ok {
		return path, line
	}
	best, bestLine := "", 0
	for p, line := range d.meta.Fields {
		if stripIndices(p) == path && (bestLine == 0 || line < bestLine) {
			best, bestLine = p, line
		}
	}
	if bestLine == 0 {
		return "spec", d.meta.Fields["spec"]
	}
	return best, bestLine
}

// findName locates the first written spec field whose last element is
// name, or spec itself.
func (d *objectDecoder) findName(name string) (string, int) {
	best, bestLine := "spec", d.meta.Fields["spec"]
	if name == "" {
		return best, bestLine
	}
	found := false
	for p, line := range d.meta.Fields {
		if strings.HasPrefix(p, "spec.") && lastElement(p) == name && (!found || line < bestLine) {
			best, bestLine, found = p, line, true
		}
	}
	return best, bestLine
}

func stripIndices(path string) string {
	var b strings.Builder
	depth := 0
	for i := 0; i < len(path); i++ {
		switch c := path[i]; {
		case c == '[' && i+1 < len(path) && path[i+1] >= '0' && path[i+1] <= '9':
			depth++
		case c == ']' && depth > 0:
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// shorten keeps a field path readable in a message.
func shorten(path string) string {
	const limit = 120
	if len(path) <= limit {
		return path
	}
	return path[:limit] + "..."
}

// splitAPIVersion splits "group/version"; the core group is "".
func splitAPIVersion(apiVersion string) (group, version string) {
	if i := strings.LastIndexByte(apiVersion, '/'); i >= 0 {
		return apiVersion[:i], apiVersion[i+1:]
	}
	return "", apiVersion
}
