package resource

import (
	"encoding/base64"
	"regexp"

	"go.yaml.in/yaml/v3"
)

// KindSecret is the Kubernetes Secret kind. Gateways read TLS certificates
// from Secrets named by a server's credentialName.
const KindSecret = "Secret"

// Secret is a Kubernetes Secret: its type and its data, decoded.
type Secret struct {
	Meta
	// Type is the Secret's type ("Opaque" when not written), e.g.
	// "kubernetes.io/tls".
	Type string
	// Data holds data (base64-decoded, as written for the API server)
	// merged with stringData (taken as is), stringData winning on a shared
	// key as the API server does when it stores the Secret.
	Data map[string][]byte
}

// secretKeys are the top-level keys of a Secret, which has no spec.
var secretKeys = []string{"apiVersion", "kind", "metadata", "type", "data", "stringData", "immutable"}

// secretKeyPattern is what the API server accepts as a data key.
var secretKeyPattern = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)

// decodeSecret reads a Secret's fields from the whole object (root). Every
// mistake is reported with its line; a Secret with any is dropped.
func decodeSecret(d *objectDecoder, root *yaml.Node, b *Bundle) {
	s := &Secret{Meta: d.meta, Type: "Opaque", Data: map[string][]byte{}}
	before := d.errors
	if _, v := mappingValue(root, "type"); !isNull(v) {
		v = resolve(v)
		if !isStringy(v) {
			d.errorf(CodeInvalidValue, v, "type", "", "expected a string, got %s", describe(v))
		} else if v.Value != "" {
			s.Type = v.Value
		}
	}
	if _, v := mappingValue(root, "immutable"); !isNull(v) {
		if v = resolve(v); v.Kind != yaml.ScalarNode || v.ShortTag() != boolTag {
			d.errorf(CodeInvalidValue, v, "immutable", "write true or false", "expected a boolean, got %s", describe(v))
		}
	}
	d.secretData(root, "data", s.Data, func(n *yaml.Node, path string) ([]byte, bool) {
		// The API server decodes data with standard, padded base64.
		out, err := base64.StdEncoding.DecodeString(n.Value)
		if err != nil {
			d.errorf(CodeInvalidValue, n, path, "data values are base64; use stringData for plain text",
				"invalid base64: %v", err)
			return nil, false
		}
		return out, true
	})
	d.secretData(root, "stringData", s.Data, func(n *yaml.Node, _ string) ([]byte, bool) {
		return []byte(n.Value), true
	})
	if d.errors > before {
		return
	}
	b.Secrets = append(b.Secrets, s)
}

// secretData reads the string map at key into into, converting each value
// with conv.
func (d *objectDecoder) secretData(root *yaml.Node, key string, into map[string][]byte,
	conv func(n *yaml.Node, path string) ([]byte, bool),
) {
	_, m := mappingValue(root, key)
	if isNull(m) {
		return
	}
	m = resolve(m)
	if m.Kind != yaml.MappingNode {
		d.errorf(CodeInvalidValue, m, key, "", "expected an object, got %s", describe(m))
		return
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := resolve(m.Content[i]), resolve(m.Content[i+1])
		path := JoinKey(key, k.Value)
		if !secretKeyPattern.MatchString(k.Value) {
			d.errorf(CodeInvalidValue, k, path, "", "a Secret key may only contain letters, digits, '-', '_' and '.'")
			continue
		}
		if isNull(v) {
			into[k.Value] = nil
			continue
		}
		if !isStringy(v) {
			d.errorf(CodeInvalidValue, v, path, "", "expected a string, got %s", describe(v))
			continue
		}
		if out, ok := conv(v, path); ok {
			into[k.Value] = out
		}
	}
}
