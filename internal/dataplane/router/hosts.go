package router

import "strings"

// hostIndex finds the virtual host for a request's Host header. Exact and
// wildcard domains live in maps so that the lookup costs the same for one
// virtual host or thousands.
type hostIndex struct {
	exact map[string]*vhost
	// suffix holds the "*." wildcards keyed without the star: "*.example.com"
	// is stored as ".example.com", which is exactly the tail a matching host
	// ends with.
	suffix map[string]*vhost
	// maxSuffix is the length of the longest suffix key; shorter tails of
	// the host are the only ones worth looking up.
	maxSuffix int
	// any serves "*".
	any *vhost
}

func newHostIndex() hostIndex {
	return hostIndex{exact: map[string]*vhost{}, suffix: map[string]*vhost{}}
}

// add registers domain for vh. A domain is expected in a single virtual
// host; should it repeat, the first registration keeps it, matching the
// order in which the snapshot lists virtual hosts.
func (h *hostIndex) add(domain string, vh *vhost) {
	d := lowerASCII(domain)
	switch {
	case d == "*":
		if h.any == nil {
			h.any = vh
		}
	case strings.HasPrefix(d, "*."):
		key := d[1:]
		if _, dup := h.suffix[key]; !dup {
			h.suffix[key] = vh
			h.maxSuffix = max(h.maxSuffix, len(key))
		}
	default:
		// Anything else, including a star elsewhere in the name, is taken
		// literally: Istio only produces "*" and leading "*." wildcards.
		if _, dup := h.exact[d]; !dup {
			h.exact[d] = vh
		}
	}
}

// hostBufSize bounds the stack buffer a mixed-case Host is lower-cased
// into. DNS names are at most 253 bytes, so only malformed hosts take the
// allocating path.
const hostBufSize = 256

// lookup returns the virtual host serving host (r.Host), or nil. Istio
// configures gateways to ignore the port when choosing the virtual host,
// so "example.com:8080" is served by "example.com".
func (h *hostIndex) lookup(host string) *vhost {
	host = stripPort(host)
	if !hasUpperASCII(host) {
		// Clients almost always send lower case: no copy at all.
		return findHost(h, host)
	}
	var buf [hostBufSize]byte
	key := buf[:]
	if len(host) > len(key) {
		key = make([]byte, len(host))
	}
	key = key[:copy(key, host)]
	for i, c := range key {
		if 'A' <= c && c <= 'Z' {
			key[i] = c + 'a' - 'A'
		}
	}
	return findHost(h, key)
}

// findHost looks a lower-case, port-less host up. It is generic so that a
// host lower-cased into a stack buffer is looked up without converting it
// to a string: string(key) inside a map index does not allocate.
func findHost[K string | []byte](h *hostIndex, key K) *vhost {
	if vh, ok := h.exact[string(key)]; ok {
		return vh
	}
	if h.maxSuffix > 0 {
		// Tails starting at a dot, scanned left to right, come longest
		// first, so the first hit is the most specific wildcard. The
		// wildcard has to stand for at least one character, so the tail
		// never starts at index 0: "*.example.com" matches neither
		// "example.com" nor ".example.com".
		for i := max(1, len(key)-h.maxSuffix); i < len(key); i++ {
			if key[i] != '.' {
				continue
			}
			if vh, ok := h.suffix[string(key[i:])]; ok {
				return vh
			}
		}
	}
	return h.any
}

func hasUpperASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// lowerASCII lower-cases the ASCII letters of s. Host names are ASCII
// (internationalised names travel as punycode), and the request side folds
// only ASCII too, so both sides agree on anything else byte for byte.
func lowerASCII(s string) string {
	if !hasUpperASCII(s) {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// stripPort removes a trailing ":port" from host. IPv6 literals keep their
// brackets ("[::1]:80" becomes "[::1]"), so a domain naming one is written
// bracketed, as it appears in the Host header. An unbracketed name with
// several colons is an IPv6 address whose last group must not be mistaken
// for a port, and a suffix that is not all digits is not a port either;
// both are left untouched.
func stripPort(host string) string {
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return host
		}
		rest := host[end+1:]
		if rest == "" || rest[0] == ':' && isPort(rest[1:]) {
			return host[:end+1]
		}
		return host
	}
	colon := strings.LastIndexByte(host, ':')
	if colon < 0 || strings.IndexByte(host[:colon], ':') >= 0 || !isPort(host[colon+1:]) {
		return host
	}
	return host[:colon]
}

// isPort reports whether s is all digits. The empty port of "host:" is
// allowed by RFC 3986 and removed like any other.
func isPort(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
