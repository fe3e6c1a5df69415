package resource

import (
	"encoding/base64"
	"math"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Scalar checks shared by the protobuf and Kubernetes schema walks.

// yamlInt returns the value of an integer scalar as sign and magnitude,
// so that the whole int64 and uint64 ranges can be checked.
func yamlInt(n *yaml.Node) (neg bool, mag uint64, ok bool) {
	var v any
	if err := n.Decode(&v); err != nil {
		return false, 0, false
	}
	switch x := v.(type) {
	case int:
		return x < 0, absU(int64(x)), true
	case int64:
		return x < 0, absU(x), true
	case uint64:
		return false, x, true
	}
	return false, 0, false
}

// fitsInt reports whether a sign and magnitude fit an integer of the given
// width and signedness.
func fitsInt(neg bool, mag uint64, bits int, signed bool) bool {
	if !signed {
		return !neg && (bits == 64 || mag < 1<<bits)
	}
	limit := uint64(1) << (bits - 1) // |min|; max is limit-1
	if neg {
		return mag <= limit
	}
	return mag < limit
}

func intFits(n *yaml.Node, kind protoreflect.Kind) bool {
	neg, mag, ok := yamlInt(n)
	if !ok {
		return false
	}
	switch kind {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return fitsInt(neg, mag, 32, true)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return fitsInt(neg, mag, 64, true)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return fitsInt(neg, mag, 32, false)
	}
	return fitsInt(neg, mag, 64, false)
}

func absU(x int64) uint64 {
	if x < 0 {
		return uint64(-(x + 1)) + 1
	}
	return uint64(x)
}

func isBase64(s string) bool {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if _, err := enc.DecodeString(s); err == nil {
			return true
		}
	}
	return false
}

// finite reports whether f is a finite number representable in the given
// float width. JSON, and so the Kubernetes API, has no NaN or infinity.
func finite(f float64, bits int) bool {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return false
	}
	if bits == 32 {
		return math.Abs(f) <= math.MaxFloat32
	}
	return true
}
