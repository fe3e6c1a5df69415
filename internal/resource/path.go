package resource

import (
	"strconv"
	"strings"
)

// JoinKey appends a mapping key to a field path. Plain keys use dot
// notation ("spec.hosts"); keys that would make the path ambiguous, such as
// label keys with dots or slashes, are quoted in brackets:
// `metadata.labels["app.kubernetes.io/name"]`. Every package that builds
// field paths must use JoinKey and JoinIndex so paths match Meta.Fields.
func JoinKey(path, key string) string {
	if key == "" || !plainKey(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// JoinIndex appends a list index to a field path: "spec.http" → "spec.http[2]".
func JoinIndex(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

func plainKey(key string) bool {
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// lastElement returns the final key of a field path, without brackets or
// quotes: "spec.http[0].route" → "route", `a["x.y"]` → "x.y", "a[3]" → "".
func lastElement(p string) string {
	if strings.HasSuffix(p, "]") {
		i := strings.LastIndexByte(p, '[')
		if i < 0 {
			return ""
		}
		if s, err := strconv.Unquote(p[i+1 : len(p)-1]); err == nil {
			return s
		}
		return ""
	}
	return p[strings.LastIndexByte(p, '.')+1:]
}
