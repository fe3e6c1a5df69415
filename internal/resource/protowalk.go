package resource

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// decodeProto decodes spec into msg strictly. The schema walk runs first
// because it can name the exact field and line of every problem, and
// report all of them at once; protojson then does the actual decoding
// and has the final word on anything the walk let through.
func (d *objectDecoder) decodeProto(spec *yaml.Node, msg proto.Message) bool {
	if isNull(spec) {
		return true // no spec: every field keeps its default
	}
	before := d.errors
	d.walkMessage(spec, "spec", msg.ProtoReflect().Descriptor(), 0)
	if d.errors > before {
		return false
	}
	w := jsonWriter{edits: &d.edits}
	if err := w.value(spec, "spec", 0); err != nil {
		d.errorf(CodeInvalidValue, spec, "spec", "", "%v", err)
		return false
	}
	if err := (protojson.UnmarshalOptions{}).Unmarshal(w.buf.Bytes(), msg); err != nil {
		d.protoError(&w, err)
		return false
	}
	return true
}

var (
	// protojsonPos matches the position protojson puts in its errors.
	protojsonPos = regexp.MustCompile(`\s*\(line (\d+):(\d+)\):?`)
	// protojsonField matches the field name in its messages.
	protojsonField = regexp.MustCompile(`(?:field "?|field )([A-Za-z0-9_]+)`)
)

// protoError reports a protojson failure at the field it points to. The
// JSON is one ASCII line, so the column is a byte offset into it; without
// a position, the field name in the message is looked up instead.
func (d *objectDecoder) protoError(w *jsonWriter, err error) {
	msg := strings.TrimPrefix(err.Error(), "proto:")
	field, line := "", 0
	if m := protojsonPos.FindStringSubmatch(msg); m != nil {
		col, _ := strconv.Atoi(m[2])
		if mk, ok := w.locate(col - 1); ok && m[1] == "1" {
			field, line = mk.path, mk.line
		}
		msg = strings.Replace(msg, m[0], "", 1)
	}
	if line == 0 {
		name := ""
		if m := protojsonField.FindStringSubmatch(msg); m != nil {
			name = m[1]
		}
		field, line = d.findName(name)
	}
	d.errorAt(CodeInvalidValue, line, field, "", strings.TrimSpace(msg))
}

// walkMessage checks a YAML node against a message type, reporting unknown
// fields, wrong shapes and bad scalar values with their paths and lines.
// It accepts what protojson accepts: JSON (camelCase) and proto field
// names, enum names, and the JSON forms of the well-known types.
func (d *objectDecoder) walkMessage(n *yaml.Node, path string, md protoreflect.MessageDescriptor, depth int) {
	if d.failed {
		return
	}
	if depth > maxDepth {
		d.errorf(CodeTooComplex, n, path, "", "document nests deeper than %d levels", maxDepth)
		return
	}
	if d.walkWellKnown(n, path, md, depth) {
		return
	}
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(CodeInvalidValue, n, path, "", "expected an object, got %s", describe(n))
		return
	}
	fields := md.Fields()
	set := make(map[protoreflect.FieldNumber]*yaml.Node)
	oneofs := make(map[protoreflect.FullName]*yaml.Node)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		p := JoinKey(path, k.Value)
		fd := fields.ByJSONName(k.Value)
		if fd == nil {
			fd = fields.ByTextName(k.Value)
		}
		if fd == nil && isReserved(md, k.Value) {
			// A field Istio has removed (the proto reserves its name).
			// Istio itself ignores such fields in stored configuration, so
			// old manifests keep working; say so rather than fail.
			d.warnf(CodeRemovedField, k, p, "delete the field", "field %q was removed from %s and is ignored", k.Value, md.Name())
			d.edits.drop(k)
			continue
		}
		if fd == nil {
			d.errorf(CodeUnknownField, k, p, suggest(k.Value, jsonNames(md)), "unknown field %q", k.Value)
			continue
		}
		if first, dup := set[fd.Number()]; dup {
			d.errorf(CodeDuplicateKey, k, p, "", "field %q is already set as %q on line %d", fd.JSONName(), first.Value, first.Line)
			continue
		}
		set[fd.Number()] = k
		if isNull(v) {
			continue // null leaves the field unset, as in protojson
		}
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
			if other, dup := oneofs[od.FullName()]; dup {
				d.errorf(CodeDuplicateKey, k, p, "set only one of them",
					"%q and %q cannot both be set", other.Value, k.Value)
				continue
			}
			oneofs[od.FullName()] = k
		}
		d.walkField(v, p, fd, depth+1)
	}
}

// isReserved reports whether key is a reserved (formerly used) field name
// of md, written in proto or JSON form.
func isReserved(md protoreflect.MessageDescriptor, key string) bool {
	names := md.ReservedNames()
	for i := 0; i < names.Len(); i++ {
		if n := string(names.Get(i)); n == key || jsonCamelCase(n) == key {
			return true
		}
	}
	return false
}

// jsonCamelCase derives a JSON field name from a proto name the way protoc
// does: "websocket_upgrade" → "websocketUpgrade".
func jsonCamelCase(s string) string {
	var b strings.Builder
	upper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_':
			upper = true
		case upper && c >= 'a' && c <= 'z':
			b.WriteByte(c - 'a' + 'A')
			upper = false
		default:
			b.WriteByte(c)
			upper = false
		}
	}
	return b.String()
}

func jsonNames(md protoreflect.MessageDescriptor) []string {
	fields := md.Fields()
	out := make([]string, fields.Len())
	for i := range out {
		out[i] = fields.Get(i).JSONName()
	}
	return out
}

func (d *objectDecoder) walkField(n *yaml.Node, path string, fd protoreflect.FieldDescriptor, depth int) {
	n = resolve(n)
	switch {
	case fd.IsMap():
		if n.Kind != yaml.MappingNode {
			d.errorf(CodeInvalidValue, n, path, "", "expected an object, got %s", describe(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := resolve(n.Content[i])
			p := JoinKey(path, k.Value)
			d.checkMapKey(k, p, fd.MapKey().Kind())
			d.walkSingular(n.Content[i+1], p, fd.MapValue(), depth+1)
		}
	case fd.IsList():
		if n.Kind != yaml.SequenceNode {
			d.errorf(CodeInvalidValue, n, path, "", "expected a list, got %s", describe(n))
			return
		}
		for i, item := range n.Content {
			d.walkSingular(item, JoinIndex(path, i), fd, depth+1)
		}
	default:
		d.walkSingular(n, path, fd, depth)
	}
}

// walkSingular checks one value of a field: the field itself, a list
// element or a map value.
func (d *objectDecoder) walkSingular(n *yaml.Node, path string, fd protoreflect.FieldDescriptor, depth int) {
	if isNull(n) {
		if acceptsNull(fd) {
			return
		}
		d.errorf(CodeInvalidValue, n, path, "", "null is not allowed here")
		return
	}
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		d.walkMessage(n, path, fd.Message(), depth)
	case protoreflect.EnumKind:
		d.checkEnum(resolve(n), path, fd.Enum())
	default:
		d.checkScalar(resolve(n), path, fd.Kind())
	}
}

// acceptsNull reports whether JSON null is a value of the field's type
// rather than "unset"; only google.protobuf.Value and NullValue are.
func acceptsNull(fd protoreflect.FieldDescriptor) bool {
	switch {
	case fd.Kind() == protoreflect.MessageKind:
		return fd.Message().FullName() == "google.protobuf.Value"
	case fd.Kind() == protoreflect.EnumKind:
		return fd.Enum().FullName() == "google.protobuf.NullValue"
	}
	return false
}

func (d *objectDecoder) checkEnum(n *yaml.Node, path string, ed protoreflect.EnumDescriptor) {
	values := ed.Values()
	switch {
	case n.Kind == yaml.ScalarNode && isStringy(n):
		if values.ByName(protoreflect.Name(n.Value)) != nil {
			return
		}
		names := make([]string, values.Len())
		for i := range names {
			names[i] = string(values.Get(i).Name())
		}
		hint := suggest(n.Value, names)
		if hint == "" && len(names) <= 10 {
			hint = "one of " + strings.Join(names, ", ")
		}
		d.errorf(CodeInvalidValue, n, path, hint, "unknown value %q for %s", n.Value, ed.Name())
	case n.Kind == yaml.ScalarNode && n.ShortTag() == intTag:
		num, err := strconv.ParseInt(n.Value, 0, 32)
		if err != nil || values.ByNumber(protoreflect.EnumNumber(num)) == nil {
			d.errorf(CodeInvalidValue, n, path, "", "%s is not a value of %s", n.Value, ed.Name())
		}
	default:
		d.errorf(CodeInvalidValue, n, path, "", "expected a %s name, got %s", ed.Name(), describe(n))
	}
}

func (d *objectDecoder) checkMapKey(k *yaml.Node, path string, kind protoreflect.Kind) {
	switch kind {
	case protoreflect.StringKind:
		return // any key reads as a string
	case protoreflect.BoolKind:
		if k.Value == "true" || k.Value == "false" {
			return
		}
	default:
		if _, err := strconv.ParseInt(k.Value, 10, 64); err == nil {
			return
		}
		if _, err := strconv.ParseUint(k.Value, 10, 64); err == nil {
			return
		}
	}
	d.errorf(CodeInvalidValue, k, path, "", "invalid map key %q: expected %s", k.Value, kindName(kind))
}

// checkScalar checks a scalar against a protobuf scalar kind. Numbers must
// be written as numbers, as the Istio CRD schemas require, even though
// protojson alone would also take quoted ones.
func (d *objectDecoder) checkScalar(n *yaml.Node, path string, kind protoreflect.Kind) {
	bad := func(hint string) {
		d.errorf(CodeInvalidValue, n, path, hint, "expected %s, got %s", kindName(kind), describe(n))
	}
	if n.Kind != yaml.ScalarNode {
		bad("")
		return
	}
	tag := n.ShortTag()
	switch kind {
	case protoreflect.BoolKind:
		if tag != boolTag {
			bad("write true or false")
		}
	case protoreflect.StringKind:
		if !isStringy(n) {
			bad(`quote the value: "` + n.Value + `"`)
		}
	case protoreflect.BytesKind:
		if !isStringy(n) || !isBase64(n.Value) {
			bad("write the bytes in base64")
		}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		if tag != intTag && tag != floatTag {
			bad("")
			return
		}
		bits := 64
		if kind == protoreflect.FloatKind {
			bits = 32
		}
		var f float64
		if err := n.Decode(&f); err != nil || !finite(f, bits) {
			d.errorf(CodeInvalidValue, n, path, "", "%s is not a finite %d-bit number", n.Value, bits)
		}
	default: // the integer kinds
		if tag != intTag {
			hint := ""
			if tag == strTag {
				hint = "write the number without quotes"
			}
			bad(hint)
			return
		}
		if !intFits(n, kind) {
			d.errorf(CodeInvalidValue, n, path, "", "%s is out of range for %s", n.Value, kind)
		}
	}
}

func kindName(kind protoreflect.Kind) string {
	switch kind {
	case protoreflect.BoolKind:
		return "a boolean"
	case protoreflect.StringKind:
		return "a string"
	case protoreflect.BytesKind:
		return "base64-encoded bytes"
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return "a number"
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return "a non-negative integer"
	}
	return "an integer"
}

// walkWellKnown handles the google.protobuf types whose JSON form is not
// an object of their fields. It reports whether md was one of them.
func (d *objectDecoder) walkWellKnown(n *yaml.Node, path string, md protoreflect.MessageDescriptor, depth int) bool {
	name := md.FullName()
	if name.Parent() != "google.protobuf" {
		return false
	}
	n = resolve(n)
	switch name.Name() {
	case "DoubleValue", "FloatValue", "Int64Value", "UInt64Value", "Int32Value",
		"UInt32Value", "BoolValue", "StringValue", "BytesValue":
		// Wrappers are written as the bare value.
		d.walkSingular(n, path, md.Fields().ByName("value"), depth)
	case "Duration":
		// Istio's own decoder reads durations with time.ParseDuration, so
		// "5m", "1h30m" and "100ms" are as valid as protojson's "300s".
		// They are rewritten to protojson's form for decoding.
		if !isStringy(n) {
			d.errorf(CodeInvalidValue, n, path, wellKnownHint(name.Name()), "expected a duration string, got %s", describe(n))
			return true
		}
		dur, err := time.ParseDuration(n.Value)
		if err != nil {
			d.errorf(CodeInvalidValue, n, path, wellKnownHint(name.Name()), "invalid duration %q", n.Value)
			return true
		}
		d.edits.replace(n, protoDuration(dur))
	case "Timestamp", "FieldMask":
		if !isStringy(n) {
			d.errorf(CodeInvalidValue, n, path, wellKnownHint(name.Name()), "expected a %s string, got %s", strings.ToLower(string(name.Name())), describe(n))
			return true
		}
		var b jsonWriter
		writeJSONString(&b.buf, n.Value)
		if !d.protojsonAccepts(b.buf.Bytes(), name) {
			d.errorf(CodeInvalidValue, n, path, wellKnownHint(name.Name()), "invalid %s %q", strings.ToLower(string(name.Name())), n.Value)
		}
	case "Struct":
		if n.Kind != yaml.MappingNode {
			d.errorf(CodeInvalidValue, n, path, "", "expected an object, got %s", describe(n))
		}
	case "ListValue":
		if n.Kind != yaml.SequenceNode {
			d.errorf(CodeInvalidValue, n, path, "", "expected a list, got %s", describe(n))
		}
	case "Value":
		// Any JSON value.
	case "Any":
		var w jsonWriter
		if err := w.value(n, path, depth); err != nil || !d.protojsonAccepts(w.buf.Bytes(), name) {
			d.errorf(CodeInvalidValue, n, path, "", "invalid google.protobuf.Any value")
		}
	default:
		return false // Empty and friends are ordinary messages
	}
	return true
}

// protojsonAccepts asks protojson itself whether data is a valid JSON
// form of the named well-known type, so the rules match exactly.
func (d *objectDecoder) protojsonAccepts(data []byte, name protoreflect.FullName) bool {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(name)
	if err != nil {
		return true // not linked in; protojson will judge it later
	}
	return protojson.Unmarshal(data, mt.New().Interface()) == nil
}

// protoDuration writes d in protojson's form: seconds with up to nine
// fractional digits and an "s" suffix.
func protoDuration(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	s := strconv.FormatInt(int64(d/time.Second), 10)
	if frac := int64(d % time.Second); frac != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%09d", frac), "0")
	}
	return sign + s + "s"
}

func wellKnownHint(name protoreflect.Name) string {
	switch name {
	case "Duration":
		return `write a number with a unit, e.g. "5s", "250ms", "1m30s" or "2h"`
	case "Timestamp":
		return `write an RFC 3339 time such as "2024-05-01T12:00:00Z"`
	}
	return ""
}
