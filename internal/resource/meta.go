package resource

import (
	"time"

	"go.yaml.in/yaml/v3"
)

// decodeMeta reads the parts of metadata the gateway uses. Other metadata
// keys (uid, resourceVersion, generation, managedFields, ...) are accepted
// and ignored, since objects exported from a cluster carry them.
func (d *objectDecoder) decodeMeta(root *yaml.Node) {
	m := &d.meta
	_, md := mappingValue(root, "metadata")
	md = resolve(md)
	if isNull(md) {
		m.Namespace = d.defaultNamespace()
		d.errorf(CodeMissingField, root, "metadata.name", "", "metadata.name is required")
		return
	}
	if md.Kind != yaml.MappingNode {
		m.Namespace = d.defaultNamespace()
		d.errorf(CodeInvalidValue, md, "metadata", "", "expected an object, got %s", describe(md))
		return
	}
	// Name and namespace first, so later diagnostics can name the object.
	m.Name = d.metaString(md, "name")
	m.Namespace = d.metaString(md, "namespace")
	if m.Namespace == "" || d.clusterScoped {
		m.Namespace = d.defaultNamespace()
	}
	if _, v := mappingValue(md, "name"); isNull(v) || (isStringy(resolve(v)) && m.Name == "") {
		d.errorf(CodeMissingField, md, "metadata.name", "", "metadata.name is required")
	}
	m.Labels = d.metaStringMap(md, "labels")
	m.Annotations = d.metaStringMap(md, "annotations")
	if _, v := mappingValue(md, "creationTimestamp"); !isNull(v) {
		v = resolve(v)
		t, err := time.Parse(time.RFC3339, v.Value)
		if !isStringy(v) || err != nil {
			d.errorf(CodeInvalidValue, v, "metadata.creationTimestamp", `write an RFC 3339 time such as "2024-05-01T12:00:00Z"`,
				"invalid creationTimestamp %q", v.Value)
		} else {
			m.CreationTimestamp = t
		}
	}
}

// defaultNamespace is the namespace of an object that names none:
// "default" as kubectl has it, or none for a cluster-scoped kind, whose
// metadata.namespace the API server ignores.
func (d *objectDecoder) defaultNamespace() string {
	if d.clusterScoped {
		return ""
	}
	return DefaultNamespace
}

func (d *objectDecoder) metaString(md *yaml.Node, key string) string {
	_, v := mappingValue(md, key)
	if isNull(v) {
		return ""
	}
	v = resolve(v)
	if !isStringy(v) {
		d.errorf(CodeInvalidValue, v, "metadata."+key, "", "expected a string, got %s", describe(v))
		return ""
	}
	return v.Value
}

// metaStringMap reads labels or annotations. Keys may be anything; values
// must be strings, as in Kubernetes ("version: 1" needs quotes).
func (d *objectDecoder) metaStringMap(md *yaml.Node, key string) map[string]string {
	_, v := mappingValue(md, key)
	if isNull(v) {
		return nil
	}
	v = resolve(v)
	path := "metadata." + key
	if v.Kind != yaml.MappingNode {
		d.errorf(CodeInvalidValue, v, path, "", "expected an object, got %s", describe(v))
		return nil
	}
	out := make(map[string]string, len(v.Content)/2)
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := resolve(v.Content[i]), resolve(v.Content[i+1])
		if k == nil || k.Kind != yaml.ScalarNode {
			continue // reported by index
		}
		switch {
		case isNull(val):
			out[k.Value] = ""
		case isStringy(val):
			out[k.Value] = val.Value
		default:
			hint := ""
			if val.Kind == yaml.ScalarNode {
				hint = `quote the value: "` + val.Value + `"`
			}
			d.errorf(CodeInvalidValue, val, JoinKey(path, k.Value), hint, "expected a string, got %s", describe(val))
		}
	}
	return out
}
