package router

import (
	"testing"

	"github.com/meshgate/meshgate/internal/snapshot"
)

// TestMatchKinds runs every condition of a Match against requests that do
// and do not satisfy it. Each case is a listener with one "*" virtual host
// and one route holding the match.
func TestMatchKinds(t *testing.T) {
	tests := []struct {
		name  string
		match snapshot.Match
		req   rq
		want  bool
	}{
		// uri exact: the path as sent, without the query.
		{"uri exact", snapshot.Match{URI: exact("/foo")}, get("/foo"), true},
		{"uri exact ignores query", snapshot.Match{URI: exact("/foo")}, get("/foo?a=1"), true},
		{"uri exact trailing slash", snapshot.Match{URI: exact("/foo")}, get("/foo/"), false},
		{"uri exact longer", snapshot.Match{URI: exact("/foo")}, get("/foobar"), false},
		{"uri exact is case-sensitive", snapshot.Match{URI: exact("/Foo")}, get("/foo"), false},
		{"uri exact keeps escapes", snapshot.Match{URI: exact("/a%2Fb")}, get("/a%2Fb"), true},
		{"uri exact not decoded", snapshot.Match{URI: exact("/a/b")}, get("/a%2Fb"), false},
		{"uri exact absolute-form", snapshot.Match{URI: exact("/foo")}, get("http://example.com/foo?x=1"), true},
		{"uri exact absolute-form no path", snapshot.Match{URI: exact("/")}, get("http://example.com"), true},

		// uri prefix: a plain string prefix, not a path-segment prefix.
		{"uri prefix", snapshot.Match{URI: prefix("/foo")}, get("/foo/bar"), true},
		{"uri prefix mid-segment", snapshot.Match{URI: prefix("/foo")}, get("/foobar"), true},
		{"uri prefix equal", snapshot.Match{URI: prefix("/foo")}, get("/foo"), true},
		{"uri prefix shorter path", snapshot.Match{URI: prefix("/foo")}, get("/fo"), false},
		{"uri prefix elsewhere", snapshot.Match{URI: prefix("/foo")}, get("/bar/foo"), false},
		{"uri prefix not in query", snapshot.Match{URI: prefix("/foo?a")}, get("/foo?a=1"), false},

		// uri regex: whole-path, compiled by New or by translate.
		{"uri regex", snapshot.Match{URI: regex("/items/[0-9]+")}, get("/items/42"), true},
		{"uri regex anchored end", snapshot.Match{URI: regex("/items/[0-9]+")}, get("/items/42/x"), false},
		{"uri regex anchored start", snapshot.Match{URI: regex("/items/[0-9]+")}, get("/v1/items/42"), false},
		{"uri regex alternation anchored", snapshot.Match{URI: regex("/a|/b")}, get("/ab"), false},
		{"uri regex alternation", snapshot.Match{URI: regex("/a|/b")}, get("/b"), true},
		{"uri regex precompiled", snapshot.Match{URI: compiled("/v[0-9]/.*")}, get("/v2/x"), true},
		{"uri regex precompiled negative", snapshot.Match{URI: compiled("/v[0-9]/.*")}, get("/vx/x"), false},
		{"uri regex invalid fails closed", snapshot.Match{URI: regex("/(")}, get("/("), false},

		// ignoreUriCase: exact and prefix only.
		{"ignoreUriCase exact", snapshot.Match{URI: exact("/Foo"), IgnoreURICase: true}, get("/fOO"), true},
		{"ignoreUriCase exact length", snapshot.Match{URI: exact("/Foo"), IgnoreURICase: true}, get("/fOOd"), false},
		{"ignoreUriCase prefix", snapshot.Match{URI: prefix("/API/"), IgnoreURICase: true}, get("/api/v1"), true},
		{"ignoreUriCase prefix negative", snapshot.Match{URI: prefix("/API/"), IgnoreURICase: true}, get("/apx/v1"), false},
		{"ignoreUriCase not for regex", snapshot.Match{URI: regex("/foo"), IgnoreURICase: true}, get("/FOO"), false},
		{"ignoreUriCase ASCII only", snapshot.Match{URI: exact("/\u212a"), IgnoreURICase: true}, get("/k"), false}, // Kelvin sign

		// scheme: the connection's.
		{"scheme https", snapshot.Match{Scheme: exact("https")}, get("/").withTLS(), true},
		{"scheme https on plain", snapshot.Match{Scheme: exact("https")}, get("/"), false},
		{"scheme http", snapshot.Match{Scheme: exact("http")}, get("/"), true},
		{"scheme ignores X-Forwarded-Proto", snapshot.Match{Scheme: exact("https")}, get("/").withHeader("X-Forwarded-Proto", "https"), false},

		// method.
		{"method exact", snapshot.Match{Method: exact("POST")}, get("/").withMethod("POST"), true},
		{"method exact negative", snapshot.Match{Method: exact("POST")}, get("/"), false},
		{"method regex", snapshot.Match{Method: regex("GET|HEAD")}, get("/").withMethod("HEAD"), true},
		{"method regex negative", snapshot.Match{Method: regex("GET|HEAD")}, get("/").withMethod("PUT"), false},

		// authority: the Host header as sent, port included.
		{"authority exact with port", snapshot.Match{Authority: exact("example.com:8080")}, get("/").withHost("example.com:8080"), true},
		{"authority exact port missing", snapshot.Match{Authority: exact("example.com:8080")}, get("/"), false},
		{"authority prefix", snapshot.Match{Authority: prefix("api.")}, get("/").withHost("api.example.com"), true},
		{"authority prefix negative", snapshot.Match{Authority: prefix("api.")}, get("/").withHost("www.example.com"), false},
		{"authority regex", snapshot.Match{Authority: regex(`[a-z]+\.example\.com`)}, get("/").withHost("web.example.com"), true},

		// headers.
		{"header exact", snapshot.Match{Headers: hdr("x-env", exact("prod"))}, get("/").withHeader("X-Env", "prod"), true},
		{"header exact other value", snapshot.Match{Headers: hdr("x-env", exact("prod"))}, get("/").withHeader("X-Env", "staging"), false},
		{"header exact missing", snapshot.Match{Headers: hdr("x-env", exact("prod"))}, get("/"), false},
		{"header exact empty missing", snapshot.Match{Headers: hdr("x-env", exact(""))}, get("/"), false},
		{"header exact empty value", snapshot.Match{Headers: hdr("x-env", exact(""))}, get("/").withHeader("X-Env", ""), true},
		{"header name any case", snapshot.Match{Headers: hdr("x-env", exact("prod"))}, get("/").withHeader("x-ENV", "prod"), true},
		{"header value case-sensitive", snapshot.Match{Headers: hdr("x-env", exact("prod"))}, get("/").withHeader("X-Env", "Prod"), false},
		{"header prefix", snapshot.Match{Headers: hdr("user-agent", prefix("curl/"))}, get("/").withHeader("User-Agent", "curl/8.0"), true},
		{"header prefix negative", snapshot.Match{Headers: hdr("user-agent", prefix("curl/"))}, get("/").withHeader("User-Agent", "wget"), false},
		{"header regex", snapshot.Match{Headers: hdr("x-version", regex("v[0-9]+"))}, get("/").withHeader("X-Version", "v12"), true},
		{"header regex anchored", snapshot.Match{Headers: hdr("x-version", regex("v[0-9]+"))}, get("/").withHeader("X-Version", "v1x"), false},
		{"header present", snapshot.Match{Headers: hdr("x-debug", present())}, get("/").withHeader("X-Debug", "1"), true},
		{"header present empty value", snapshot.Match{Headers: hdr("x-debug", present())}, get("/").withHeader("X-Debug", ""), true},
		{"header present missing", snapshot.Match{Headers: hdr("x-debug", present())}, get("/"), false},
		{"header empty StringMatch is present", snapshot.Match{Headers: hdr("x-debug", &snapshot.StringMatch{})}, get("/").withHeader("X-Debug", "1"), true},
		{"header repeated joined exact", snapshot.Match{Headers: hdr("x-a", exact("1,2"))}, get("/").withHeader("X-A", "1").withHeader("X-A", "2"), true},
		{"header repeated exact first only", snapshot.Match{Headers: hdr("x-a", exact("1"))}, get("/").withHeader("X-A", "1").withHeader("X-A", "2"), false},
		{"header repeated exact longer", snapshot.Match{Headers: hdr("x-a", exact("1,2,3"))}, get("/").withHeader("X-A", "1").withHeader("X-A", "2"), false},
		{"header repeated joined prefix", snapshot.Match{Headers: hdr("x-a", prefix("1,2"))}, get("/").withHeader("X-A", "1").withHeader("X-A", "23"), true},
		{"header repeated prefix separator", snapshot.Match{Headers: hdr("x-a", prefix("12"))}, get("/").withHeader("X-A", "1").withHeader("X-A", "2"), false},
		{"header repeated joined regex", snapshot.Match{Headers: hdr("x-a", regex("1,[0-9]"))}, get("/").withHeader("X-A", "1").withHeader("X-A", "2"), true},
		{"header host is the authority", snapshot.Match{Headers: hdr("host", exact("api.example.com"))}, get("/").withHost("api.example.com"), true},
		{"header :authority", snapshot.Match{Headers: hdr(":authority", prefix("www."))}, get("/"), false},
		{"header :method", snapshot.Match{Headers: hdr(":method", exact("DELETE"))}, get("/").withMethod("DELETE"), true},
		{"header :scheme", snapshot.Match{Headers: hdr(":scheme", exact("https"))}, get("/").withTLS(), true},
		{"header :path has the query", snapshot.Match{Headers: hdr(":path", exact("/a?b=1"))}, get("/a?b=1"), true},

		// withoutHeaders: inverted, a missing header read as "".
		{"without exact missing", snapshot.Match{WithoutHeaders: hdr("x", exact("foo"))}, get("/"), true},
		{"without exact equal", snapshot.Match{WithoutHeaders: hdr("x", exact("foo"))}, get("/").withHeader("X", "foo"), false},
		{"without exact other", snapshot.Match{WithoutHeaders: hdr("x", exact("foo"))}, get("/").withHeader("X", "bar"), true},
		{"without prefix missing", snapshot.Match{WithoutHeaders: hdr("x", prefix("f"))}, get("/"), true},
		{"without prefix matching", snapshot.Match{WithoutHeaders: hdr("x", prefix("f"))}, get("/").withHeader("X", "foo"), false},
		{"without empty prefix missing", snapshot.Match{WithoutHeaders: hdr("x", prefix(""))}, get("/"), false},
		{"without regex missing", snapshot.Match{WithoutHeaders: hdr("x", regex("a.*"))}, get("/"), true},
		{"without regex matching", snapshot.Match{WithoutHeaders: hdr("x", regex("a.*"))}, get("/").withHeader("X", "abc"), false},
		{"without exact empty missing", snapshot.Match{WithoutHeaders: hdr("x", exact(""))}, get("/"), false},
		{"without present missing", snapshot.Match{WithoutHeaders: hdr("x", present())}, get("/"), true},
		{"without present there", snapshot.Match{WithoutHeaders: hdr("x", present())}, get("/").withHeader("X", ""), false},

		// queryParams: the first value, decoded; "?key" is present and "".
		{"query exact", snapshot.Match{QueryParams: qp("a", exact("1"))}, get("/?a=1"), true},
		{"query exact other", snapshot.Match{QueryParams: qp("a", exact("1"))}, get("/?a=2"), false},
		{"query exact missing", snapshot.Match{QueryParams: qp("a", exact("1"))}, get("/?b=1"), false},
		{"query exact no query", snapshot.Match{QueryParams: qp("a", exact("1"))}, get("/"), false},
		{"query exact longer name", snapshot.Match{QueryParams: qp("a", exact("1"))}, get("/?ab=1"), false},
		{"query exact among others", snapshot.Match{QueryParams: qp("a", exact("1"))}, get("/?x=y&&a=1&z"), true},
		{"query first value wins", snapshot.Match{QueryParams: qp("a", exact("1"))}, get("/?a=2&a=1"), false},
		{"query first value", snapshot.Match{QueryParams: qp("a", exact("1"))}, get("/?a=1&a=2"), true},
		{"query key without value is empty", snapshot.Match{QueryParams: qp("a", exact(""))}, get("/?a"), true},
		{"query empty value", snapshot.Match{QueryParams: qp("a", exact(""))}, get("/?a="), true},
		{"query exact empty but set", snapshot.Match{QueryParams: qp("a", exact(""))}, get("/?a=1"), false},
		{"query value decoded", snapshot.Match{QueryParams: qp("q", exact("a b/c"))}, get("/?q=a%20b%2Fc"), true},
		{"query plus is space", snapshot.Match{QueryParams: qp("q", exact("a b"))}, get("/?q=a+b"), true},
		{"query bad escape literal", snapshot.Match{QueryParams: qp("q", exact("100%"))}, get("/?q=100%"), true},
		{"query key decoded", snapshot.Match{QueryParams: qp("ab", exact("1"))}, get("/?a%62=1"), true},
		{"query key decoded negative", snapshot.Match{QueryParams: qp("ab", exact("1"))}, get("/?a%63=1"), false},
		{"query prefix", snapshot.Match{QueryParams: qp("a", prefix("ab"))}, get("/?a=abc"), true},
		{"query prefix negative", snapshot.Match{QueryParams: qp("a", prefix("ab"))}, get("/?a=ba"), false},
		{"query regex", snapshot.Match{QueryParams: qp("id", regex("[0-9]+"))}, get("/?id=123"), true},
		{"query regex anchored", snapshot.Match{QueryParams: qp("id", regex("[0-9]+"))}, get("/?id=12x"), false},
		{"query present", snapshot.Match{QueryParams: qp("debug", present())}, get("/?debug"), true},
		{"query present with value", snapshot.Match{QueryParams: qp("debug", present())}, get("/?x=1&debug=0"), true},
		{"query present missing", snapshot.Match{QueryParams: qp("debug", present())}, get("/?debugger=1"), false},
		{"query value name only", snapshot.Match{QueryParams: qp("debug", present())}, get("/?x=debug"), false},

		// port: the listener's Gateway port (8080 here).
		{"port same", snapshot.Match{Port: 8080}, get("/"), true},
		{"port other", snapshot.Match{Port: 9090}, get("/"), false},
		{"port unset", snapshot.Match{Port: 0}, get("/"), true},
		{"port ignores Host port", snapshot.Match{Port: 9090}, get("/").withHost("example.com:9090"), false},

		// Conditions of one match are ANDed.
		{"and all hold", snapshot.Match{URI: prefix("/api"), Method: exact("GET"), Headers: hdr("x-env", exact("prod")), QueryParams: qp("v", exact("2"))},
			get("/api/x?v=2").withHeader("X-Env", "prod"), true},
		{"and one fails", snapshot.Match{URI: prefix("/api"), Method: exact("GET"), Headers: hdr("x-env", exact("prod")), QueryParams: qp("v", exact("2"))},
			get("/api/x?v=3").withHeader("X-Env", "prod"), false},
		{"and header and without", snapshot.Match{Headers: hdr("x-a", present()), WithoutHeaders: hdr("x-b", present())},
			get("/").withHeader("X-A", "1").withHeader("X-B", "1"), false},

		{"unknown kind fails closed", snapshot.Match{URI: &snapshot.StringMatch{Kind: "suffix", Value: "/"}}, get("/"), false},
		{"empty match matches all", snapshot.Match{}, get("/anything?x").withMethod("PATCH"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			route := rt("r", tc.match)
			tab := New(listener(vhostOf("vh", []string{"*"}, route)))
			vh, got := tab.Route(tc.req.build())
			if vh == nil {
				t.Fatal("virtual host not found")
			}
			if (got != nil) != tc.want {
				t.Errorf("matched = %v, want %v", got != nil, tc.want)
			}
		})
	}
}

// TestMatchesORed: a route matches when any of its matches does.
func TestMatchesORed(t *testing.T) {
	tab := New(listener(vhostOf("vh", []string{"*"},
		rt("either", snapshot.Match{URI: exact("/a")}, snapshot.Match{Headers: hdr("x-b", present())}),
	)))
	for _, tc := range []struct {
		req  rq
		want bool
	}{
		{get("/a"), true},
		{get("/b").withHeader("X-B", "1"), true},
		{get("/a").withHeader("X-B", "1"), true},
		{get("/b"), false},
	} {
		if _, got := tab.Route(tc.req.build()); (got != nil) != tc.want {
			t.Errorf("%s %v: matched = %v, want %v", tc.req.target, tc.req.headers, got != nil, tc.want)
		}
	}
}

func TestJoinedHasPrefix(t *testing.T) {
	for _, tc := range []struct {
		vals []string
		p    string
	}{
		{[]string{"a", "b"}, ""}, {[]string{"a", "b"}, "a"}, {[]string{"a", "b"}, "a,"},
		{[]string{"a", "b"}, "a,b"}, {[]string{"a", "b"}, "a,b,"}, {[]string{"a", "b"}, "ab"},
		{[]string{"", ""}, ","}, {[]string{"", ""}, ",,"}, {[]string{"ab", "c"}, "ab,c"},
		{[]string{"ab", "c"}, "a"}, {[]string{"ab", "c"}, "b"},
	} {
		want := len(tc.p) <= len(join(tc.vals)) && join(tc.vals)[:len(tc.p)] == tc.p
		if got := joinedHasPrefix(tc.vals, tc.p); got != want {
			t.Errorf("joinedHasPrefix(%q, %q) = %v, want %v", tc.vals, tc.p, got, want)
		}
	}
}

func join(vals []string) string {
	s := ""
	for i, v := range vals {
		if i > 0 {
			s += ","
		}
		s += v
	}
	return s
}
