package resource

import (
	"encoding"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
	kjson "sigs.k8s.io/json"
)

// decodeKube decodes spec into out (a pointer to a k8s.io/api struct)
// strictly. As for Istio types, a schema walk (here over the Go types and
// their json tags) reports every problem with its line; the Kubernetes
// JSON decoder (case-sensitive, rejecting unknown and duplicate fields,
// as the API server does) then does the decoding.
func (d *objectDecoder) decodeKube(spec *yaml.Node, out any) bool {
	if isNull(spec) {
		return true
	}
	before := d.errors
	d.walkGo(spec, "spec", reflect.TypeOf(out).Elem(), 0)
	if d.errors > before {
		return false
	}
	w := jsonWriter{edits: &d.edits}
	if err := w.value(spec, "spec", 0); err != nil {
		d.errorf(CodeInvalidValue, spec, "spec", "", "%v", err)
		return false
	}
	strict, err := kjson.UnmarshalStrict(w.buf.Bytes(), out, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		strict = append(strict, err)
	}
	for _, e := range strict {
		d.kubeError(&w, out, e)
	}
	return len(strict) == 0
}

// kubeError reports a decoder failure the walk did not foresee. Strict
// errors (unknown, duplicate fields) carry a full path. Other errors carry
// no usable position, so the standard library decoder, which reports a
// byte offset, is run again on a fresh value to find the culprit.
func (d *objectDecoder) kubeError(w *jsonWriter, out any, err error) {
	msg := strings.TrimPrefix(err.Error(), "json: ")
	var fe kjson.FieldError
	if errors.As(err, &fe) && fe.FieldPath() != "" {
		field, line := d.findField("spec." + fe.FieldPath())
		d.errorAt(CodeInvalidValue, line, field, "", msg)
		return
	}
	var (
		te  *json.UnmarshalTypeError
		se  *json.SyntaxError
		off int64 = -1
	)
	switch err := json.Unmarshal(w.buf.Bytes(), reflect.New(reflect.TypeOf(out).Elem()).Interface()); {
	case errors.As(err, &te):
		off = te.Offset
	case errors.As(err, &se):
		off = se.Offset
	}
	// The offset is just past the offending value.
	if mk, ok := w.locate(int(off) - 1); ok && off > 0 {
		d.errorAt(CodeInvalidValue, mk.line, mk.path, "", msg)
		return
	}
	field, line := d.findField("spec")
	d.errorAt(CodeInvalidValue, line, field, "", msg)
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// walkGo checks a YAML node against a Go type the way encoding/json with
// Kubernetes' strict options would read it.
func (d *objectDecoder) walkGo(n *yaml.Node, path string, t reflect.Type, depth int) {
	if d.failed {
		return
	}
	if depth > maxDepth {
		d.errorf(CodeTooComplex, n, path, "", "document nests deeper than %d levels", maxDepth)
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if isNull(n) {
		return // null decodes to the zero value
	}
	n = resolve(n)
	pt := reflect.PointerTo(t)
	if pt.Implements(jsonUnmarshaler) || pt.Implements(textUnmarshaler) {
		d.checkCustom(n, path, t)
		return
	}
	bad := func(want, hint string) {
		d.errorf(CodeInvalidValue, n, path, hint, "expected %s, got %s", want, describe(n))
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			bad("an object", "")
			return
		}
		fields := goFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := resolve(n.Content[i])
			p := JoinKey(path, k.Value)
			f, ok := fields.byName[k.Value]
			if !ok {
				d.errorf(CodeUnknownField, k, p, suggest(k.Value, fields.names), "unknown field %q", k.Value)
				continue
			}
			d.walkGo(n.Content[i+1], p, f, depth+1)
		}
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			if !isStringy(n) || !isBase64(n.Value) {
				bad("base64-encoded bytes", "")
			}
			return
		}
		if n.Kind != yaml.SequenceNode {
			bad("a list", "")
			return
		}
		for i, item := range n.Content {
			d.walkGo(item, JoinIndex(path, i), t.Elem(), depth+1)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			bad("an object", "")
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := resolve(n.Content[i])
			d.walkGo(n.Content[i+1], JoinKey(path, k.Value), t.Elem(), depth+1)
		}
	case reflect.String:
		if !isStringy(n) {
			hint := ""
			if n.Kind == yaml.ScalarNode {
				hint = `quote the value: "` + n.Value + `"`
			}
			bad("a string", hint)
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != boolTag {
			bad("a boolean", "write true or false")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != intTag {
			bad("an integer", "")
			return
		}
		neg, mag, ok := yamlInt(n)
		signed := t.Kind() <= reflect.Int64
		if !ok || !fitsInt(neg, mag, t.Bits(), signed) {
			d.errorf(CodeInvalidValue, n, path, "", "%s is out of range for a %d-bit integer", n.Value, t.Bits())
		}
	case reflect.Float32, reflect.Float64:
		var f float64
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != intTag && n.ShortTag() != floatTag) || n.Decode(&f) != nil || !finite(f, t.Bits()) {
			bad("a finite number", "")
		}
	case reflect.Interface:
		// Any JSON value.
	default:
		d.checkCustom(n, path, t)
	}
}

// checkCustom validates a value of a type with its own JSON decoding
// (IntOrString, Quantity, Time) by running that decoding on it alone.
func (d *objectDecoder) checkCustom(n *yaml.Node, path string, t reflect.Type) {
	var w jsonWriter
	err := w.value(n, path, 0)
	if err == nil {
		err = kjson.UnmarshalCaseSensitivePreserveInts(w.buf.Bytes(), reflect.New(t).Interface())
	}
	if err != nil {
		d.errorf(CodeInvalidValue, n, path, "", "invalid value: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
}

// structFields is the JSON view of a struct type: field names as written
// in documents, mapped to their types, with embedded structs flattened as
// encoding/json does.
type structFields struct {
	byName map[string]reflect.Type
	names  []string
}

var fieldCache sync.Map // reflect.Type → *structFields

func goFields(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	f := &structFields{byName: make(map[string]reflect.Type)}
	collectFields(t, f, 0)
	fieldCache.Store(t, f)
	return f
}

func collectFields(t reflect.Type, out *structFields, depth int) {
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := sf.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if sf.Anonymous && name == "" && ft.Kind() == reflect.Struct && depth < 8 {
			collectFields(ft, out, depth+1)
			continue
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		if _, dup := out.byName[name]; !dup {
			out.byName[name] = sf.Type
			out.names = append(out.names, name)
		}
	}
}
