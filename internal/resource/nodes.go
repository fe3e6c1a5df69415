package resource

import (
	"go.yaml.in/yaml/v3"
)

// Resolved YAML tags (yaml.Node.ShortTag) that decoding cares about.
const (
	nullTag      = "!!null"
	boolTag      = "!!bool"
	intTag       = "!!int"
	floatTag     = "!!float"
	strTag       = "!!str"
	timestampTag = "!!timestamp"
	binaryTag    = "!!binary"
	mergeTag     = "!!merge"
)

// resolve follows an alias to the node it names. Aliases of aliases do not
// occur in parsed YAML, but a bound keeps a malformed tree from looping.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 8; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == nullTag)
}

// isStringy reports whether a scalar reads as text. Timestamps and binary
// are text in JSON, which is what Kubernetes and Istio decode from.
func isStringy(n *yaml.Node) bool {
	if n.Kind != yaml.ScalarNode {
		return false
	}
	switch n.ShortTag() {
	case strTag, timestampTag, binaryTag:
		return true
	}
	return false
}

// describe names what a node is, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	n = resolve(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "an object"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case nullTag:
			return "null"
		case boolTag:
			return "a boolean"
		case intTag:
			return "an integer"
		case floatTag:
			return "a number"
		}
		return "a string"
	}
	return "an unsupported YAML node"
}

// mappingValue returns the value under key in a mapping node, or nil.
func mappingValue(m *yaml.Node, key string) (k, v *yaml.Node) {
	m = resolve(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if kn := resolve(m.Content[i]); kn != nil && kn.Kind == yaml.ScalarNode && kn.Value == key {
			return kn, m.Content[i+1]
		}
	}
	return nil, nil
}
