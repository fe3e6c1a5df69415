package router

import (
	"net/http"
	"net/textproto"
	"regexp"
	"strings"

	"github.com/meshgate/meshgate/internal/snapshot"
)

// kind is a snapshot.MatchKind resolved to a small integer so the hot path
// switches on a byte instead of comparing strings.
type kind uint8

const (
	// kindAny is an unset condition: it holds for every request.
	kindAny kind = iota
	kindExact
	kindPrefix
	// kindExactFold and kindPrefixFold are exact and prefix made ASCII
	// case-insensitive by ignoreUriCase. ASCII only, like Envoy: Unicode
	// folding can change byte lengths, which would make a prefix
	// comparison cut the path in the wrong place.
	kindExactFold
	kindPrefixFold
	kindRegex
	kindPresent
	// kindNever is an unknown kind or a regular expression that does not
	// compile. Such a condition fails closed: the route it guards becomes
	// unreachable instead of matching more than it was meant to.
	kindNever
)

// stringMatcher is a snapshot.StringMatch prepared for the hot path.
type stringMatcher struct {
	kind  kind
	value string
	re    *regexp.Regexp
}

// newStringMatcher prepares sm; nil means no condition.
func newStringMatcher(sm *snapshot.StringMatch, fold bool) stringMatcher {
	if sm == nil {
		return stringMatcher{kind: kindAny}
	}
	m := stringMatcher{value: sm.Value}
	switch sm.Kind {
	case snapshot.Exact:
		m.kind = kindExact
		if fold {
			m.kind = kindExactFold
		}
	case snapshot.Prefix:
		m.kind = kindPrefix
		if fold {
			m.kind = kindPrefixFold
		}
	case snapshot.Regex:
		m.kind, m.re = kindRegex, sm.Compiled
		if m.re == nil {
			// translate fills Compiled; a snapshot assembled without it
			// is compiled here, once, never per request.
			re, err := regexp.Compile("^(?:" + sm.Value + ")$")
			if err != nil {
				return stringMatcher{kind: kindNever}
			}
			m.re = re
		}
	case snapshot.Present, "":
		// An empty StringMatch is how Istio spells "the header exists".
		m.kind = kindPresent
	default:
		m.kind = kindNever
	}
	return m
}

// match reports whether s, a value that exists, satisfies the condition.
// The kinds nearly every route uses are decided here; case folding and
// regular expressions are left to matchOther to keep this one short.
func (m *stringMatcher) match(s string) bool {
	switch m.kind {
	case kindAny, kindPresent:
		return true
	case kindExact:
		return s == m.value
	case kindPrefix:
		return strings.HasPrefix(s, m.value)
	}
	return m.matchOther(s)
}

func (m *stringMatcher) matchOther(s string) bool {
	switch m.kind {
	case kindExactFold:
		return equalFoldASCII(s, m.value)
	case kindPrefixFold:
		return len(s) >= len(m.value) && equalFoldASCII(s[:len(m.value)], m.value)
	case kindRegex:
		return m.re.MatchString(s)
	}
	return false
}

// matchJoined matches the values of a repeated header as Envoy sees them:
// joined with ",". Exact and prefix walk the pieces in place so that they
// stay allocation-free; a regexp needs the joined string.
func (m *stringMatcher) matchJoined(vals []string) bool {
	if len(vals) == 1 {
		return m.match(vals[0])
	}
	switch m.kind {
	case kindExact:
		n := len(vals) - 1
		for _, v := range vals {
			n += len(v)
		}
		return n == len(m.value) && joinedHasPrefix(vals, m.value)
	case kindPrefix:
		return joinedHasPrefix(vals, m.value)
	}
	return m.match(strings.Join(vals, ","))
}

// joinedHasPrefix reports whether strings.Join(vals, ",") starts with p.
func joinedHasPrefix(vals []string, p string) bool {
	for i, v := range vals {
		if i > 0 {
			if p == "" {
				return true
			}
			if p[0] != ',' {
				return false
			}
			p = p[1:]
		}
		if len(p) <= len(v) {
			return v[:len(p)] == p
		}
		if v != p[:len(v)] {
			return false
		}
		p = p[len(v):]
	}
	return p == ""
}

// equalFoldASCII is strings.EqualFold restricted to ASCII letters.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// source says where a header matcher reads its value. net/http lifts the
// Host header and the request line out of r.Header, so matchers on those
// names, and on the HTTP/2 pseudo-headers Envoy exposes, read the fields
// net/http keeps them in.
type source uint8

const (
	fromHeader    source = iota
	fromAuthority        // "host" and ":authority"
	fromMethod           // ":method"
	fromScheme           // ":scheme"
	fromPath             // ":path": path and query as sent
)

// headerMatcher is one entry of headers or withoutHeaders.
type headerMatcher struct {
	// key is the name in the canonical form r.Header is keyed by, computed
	// once here because canonicalising per request would allocate.
	key    string
	source source
	// invert makes this a withoutHeaders entry.
	invert bool
	m      stringMatcher
}

func newHeaderMatcher(hm *snapshot.HeaderMatch, invert bool) headerMatcher {
	h := headerMatcher{invert: invert, m: newStringMatcher(&hm.Value, false)}
	switch name := strings.ToLower(hm.Name); name {
	case "host", ":authority":
		h.source = fromAuthority
	case ":method":
		h.source = fromMethod
	case ":scheme":
		h.source = fromScheme
	case ":path":
		h.source = fromPath
	default:
		h.key = textproto.CanonicalMIMEHeaderKey(name)
	}
	return h
}

func (h *headerMatcher) matches(q *request) bool {
	var ok bool
	if h.source == fromHeader {
		vals := q.r.Header[h.key]
		switch {
		case len(vals) > 0:
			ok = h.m.kind == kindPresent || h.m.matchJoined(vals)
		case h.invert && h.m.kind != kindPresent:
			// withoutHeaders treats a missing header as empty before
			// inverting (Envoy's treat_missing_header_as_empty), so
			// "without x: exact foo" holds for a request without x.
			ok = h.m.match("")
		}
	} else {
		ok = h.m.match(q.pseudo(h.source))
	}
	return ok != h.invert
}

// queryMatcher is one entry of queryParams.
type queryMatcher struct {
	name string
	m    stringMatcher
}

// matches looks the parameter up in the raw query each time: most routes
// have no query conditions, so parsing the query up front would be wasted
// work, and the scan allocates nothing.
func (qm *queryMatcher) matches(rawQuery string) bool {
	v, ok := firstQueryValue(rawQuery, qm.name)
	if !ok {
		return false
	}
	if qm.m.kind == kindPresent {
		return true
	}
	return qm.m.match(unescapeQuery(v))
}

// match is one snapshot.Match: every condition must hold.
type match struct {
	uri, method, scheme, authority stringMatcher
	headers                        []headerMatcher
	query                          []queryMatcher
}

func newMatch(sm *snapshot.Match) match {
	m := match{
		uri:       newStringMatcher(sm.URI, sm.IgnoreURICase),
		method:    newStringMatcher(sm.Method, false),
		scheme:    newStringMatcher(sm.Scheme, false),
		authority: newStringMatcher(sm.Authority, false),
	}
	for i := range sm.Headers {
		m.headers = append(m.headers, newHeaderMatcher(&sm.Headers[i], false))
	}
	for i := range sm.WithoutHeaders {
		m.headers = append(m.headers, newHeaderMatcher(&sm.WithoutHeaders[i], true))
	}
	for i := range sm.QueryParams {
		qp := &sm.QueryParams[i]
		m.query = append(m.query, queryMatcher{name: qp.Name, m: newStringMatcher(&qp.Value, false)})
	}
	return m
}

// matches evaluates the cheap, most selective conditions first; the
// conditions are ANDed, so the order changes cost, never the result.
func (m *match) matches(q *request) bool {
	if !m.uri.match(q.path) || !m.method.match(q.r.Method) ||
		!m.scheme.match(q.scheme()) || !m.authority.match(q.r.Host) {
		return false
	}
	for i := range m.headers {
		if !m.headers[i].matches(q) {
			return false
		}
	}
	if len(m.query) > 0 {
		raw := q.rawQuery()
		for i := range m.query {
			if !m.query[i].matches(raw) {
				return false
			}
		}
	}
	return true
}

// request is what the matchers read from one *http.Request, with the path
// extracted once.
type request struct {
	r    *http.Request
	path string
}

func (q *request) scheme() string {
	if q.r.TLS != nil {
		return "https"
	}
	return "http"
}

func (q *request) rawQuery() string {
	if q.r.URL == nil {
		return ""
	}
	return q.r.URL.RawQuery
}

func (q *request) pseudo(s source) string {
	switch s {
	case fromAuthority:
		return q.r.Host
	case fromMethod:
		return q.r.Method
	case fromScheme:
		return q.scheme()
	case fromPath:
		return q.pathAndQuery()
	}
	return ""
}

// pathAndQuery is the :path pseudo-header: the target as sent when the
// client used the usual origin form, else rebuilt from its parts.
func (q *request) pathAndQuery() string {
	if u := q.r.RequestURI; u != "" && u[0] == '/' {
		if i := strings.IndexByte(u, '#'); i >= 0 {
			return u[:i]
		}
		return u
	}
	if raw := q.rawQuery(); raw != "" {
		return q.path + "?" + raw
	}
	return q.path
}
