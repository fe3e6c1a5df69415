package router

import "strings"

// firstQueryValue returns the value of the first parameter named name in
// raw (a URL's RawQuery), still percent-encoded. A parameter without "="
// ("?key") is present with an empty value. Keys are compared decoded, so
// "?a%62=1" sets "ab". Pairs are separated by "&" only, as net/url does.
func firstQueryValue(raw, name string) (string, bool) {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		key, val, _ := strings.Cut(pair, "=")
		if queryKeyIs(key, name) {
			return val, true
		}
	}
	return "", false
}

// queryKeyIs reports whether the encoded key decodes to name, decoding as
// it compares so that no decoded copy is made.
func queryKeyIs(enc, name string) bool {
	if !needsUnescape(enc) {
		return enc == name
	}
	j := 0
	for i := 0; i < len(enc); i++ {
		c, n := unescapeAt(enc, i)
		i += n
		if j >= len(name) || name[j] != c {
			return false
		}
		j++
	}
	return j == len(name)
}

// unescapeQuery decodes a query value the way HTML forms encode it:
// "%XX" is a byte and "+" a space. A malformed escape is kept literally
// rather than failing the match, since clients do send them. Values
// without escapes, the common case, are returned without a copy.
func unescapeQuery(s string) string {
	if !needsUnescape(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c, n := unescapeAt(s, i)
		i += n
		b.WriteByte(c)
	}
	return b.String()
}

func needsUnescape(s string) bool {
	return strings.IndexByte(s, '%') >= 0 || strings.IndexByte(s, '+') >= 0
}

// unescapeAt decodes the byte at s[i] and returns it with the number of
// extra bytes the escape consumed.
func unescapeAt(s string, i int) (byte, int) {
	switch s[i] {
	case '+':
		return ' ', 0
	case '%':
		if i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				return hi<<4 | lo, 2
			}
		}
	}
	return s[i], 0
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
