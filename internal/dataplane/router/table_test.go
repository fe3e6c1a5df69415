package router

import (
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/meshgate/meshgate/internal/snapshot"
)

func TestFirstMatchWins(t *testing.T) {
	broad := rt("broad", snapshot.Match{URI: prefix("/")})
	narrow := rt("narrow", snapshot.Match{URI: exact("/narrow")})
	other := rt("other", snapshot.Match{URI: prefix("/other")})

	shadowed := New(listener(vhostOf("vh", []string{"*"}, broad, narrow)))
	if _, r := shadowed.Route(get("/narrow").build()); r != broad {
		t.Errorf("broad first: got %s, want broad", routeName(r))
	}

	ordered := New(listener(vhostOf("vh", []string{"*"}, narrow, other, broad)))
	for path, want := range map[string]*snapshot.Route{
		"/narrow":  narrow,
		"/other/x": other,
		"/x":       broad,
	} {
		if _, r := ordered.Route(get(path).build()); r != want {
			t.Errorf("%s: got %s, want %s", path, routeName(r), want.Name)
		}
	}
}

func TestVirtualHostWithoutRoute(t *testing.T) {
	tab := New(listener(vhostOf("vh", []string{"*"}, rt("api", snapshot.Match{URI: prefix("/api")}))))
	vh, r := tab.Route(get("/web").build())
	if vhostName(vh) != "vh" || r != nil {
		t.Errorf("got %s/%s, want vh/<nil>", vhostName(vh), routeName(r))
	}
}

// A route whose every match names another port is unreachable on this
// listener and must not hide the routes after it.
func TestOtherPortRouteSkipped(t *testing.T) {
	elsewhere := rt("elsewhere", snapshot.Match{Port: 443}, snapshot.Match{Port: 9090, URI: prefix("/")})
	mixed := rt("mixed", snapshot.Match{Port: 443}, snapshot.Match{Port: 8080, URI: prefix("/m")})
	fallback := rt("fallback")
	tab := New(listener(vhostOf("vh", []string{"*"}, elsewhere, mixed, fallback)))
	for path, want := range map[string]*snapshot.Route{"/m": mixed, "/x": fallback} {
		if _, r := tab.Route(get(path).build()); r != want {
			t.Errorf("%s: got %s, want %s", path, routeName(r), want.Name)
		}
	}
}

func TestNilTable(t *testing.T) {
	var nilTable *Table
	for _, tab := range []*Table{nilTable, New(nil), New(&snapshot.Listener{})} {
		if vh, r := tab.Route(get("/").build()); vh != nil || r != nil {
			t.Errorf("got %s/%s, want nil/nil", vhostName(vh), routeName(r))
		}
	}
}

// Requests built in-process have no RequestURI; the path then comes from
// the URL, still escaped.
func TestRequestWithoutRequestURI(t *testing.T) {
	tab := New(listener(vhostOf("vh", []string{"*"},
		rt("escaped", snapshot.Match{URI: exact("/a%2Fb")}),
		rt("plain", snapshot.Match{URI: exact("/a b")}),
	)))
	r, err := http.NewRequest(http.MethodGet, "http://example.com/a%2Fb?x=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, got := tab.Route(r); routeName(got) != "escaped" {
		t.Errorf("got %s, want escaped", routeName(got))
	}
	r = &http.Request{Method: http.MethodGet, Host: "example.com", URL: &url.URL{Path: "/a b"}}
	if _, got := tab.Route(r); got != nil {
		t.Errorf("decoded path matched %s; want the escaped form /a%%20b", routeName(got))
	}
	r = &http.Request{Method: http.MethodGet, Host: "example.com"}
	if vh, got := tab.Route(r); vh == nil || got != nil {
		t.Errorf("request without URL: got %s/%s", vhostName(vh), routeName(got))
	}
}

func TestRequestPath(t *testing.T) {
	for target, want := range map[string]string{
		"/":                         "/",
		"/a/b?c=d":                  "/a/b",
		"/a%2Fb?":                   "/a%2Fb",
		"/a#frag":                   "/a",
		"http://example.com/x?y":    "/x",
		"https://example.com":       "/",
		"http://example.com?q=1":    "/",
		"http://user@example.com/p": "/p",
		"*":                         "*",
		"example.com:443":           "example.com:443",
	} {
		r := &http.Request{RequestURI: target}
		if got := requestPath(r); got != want {
			t.Errorf("requestPath(%q) = %q, want %q", target, got, want)
		}
	}
}

// TestRouteAllocs pins the promise that the hot path allocates nothing for
// exact, prefix and present conditions, whatever the host looks like.
func TestRouteAllocs(t *testing.T) {
	tab := New(listener(
		vhostOf("api", []string{"api.example.com"},
			rt("exact", snapshot.Match{URI: exact("/exact")}),
			rt("fold", snapshot.Match{URI: prefix("/FOLD"), IgnoreURICase: true}),
			rt("header-exact", snapshot.Match{URI: prefix("/h"), Headers: hdr("x-env", exact("prod"))}),
			rt("header-prefix", snapshot.Match{URI: prefix("/h"), Headers: hdr("user-agent", prefix("curl/"))}),
			rt("header-present", snapshot.Match{URI: prefix("/h"), Headers: hdr("x-debug", present())}),
			rt("header-joined", snapshot.Match{URI: prefix("/h"), Headers: hdr("x-a", exact("1,2"))}),
			rt("without", snapshot.Match{URI: prefix("/w"), WithoutHeaders: hdr("x-canary", exact("1"))}),
			rt("query", snapshot.Match{URI: prefix("/q"), QueryParams: qp("v", exact("2"))}),
			rt("query-present", snapshot.Match{URI: prefix("/q"), QueryParams: qp("debug", present())}),
			rt("scheme-method", snapshot.Match{Scheme: exact("https"), Method: exact("POST")}),
			rt("authority", snapshot.Match{Authority: prefix("api.example.com:")}),
			rt("prefix", snapshot.Match{URI: prefix("/p")}),
		),
		vhostOf("wild", []string{"*.example.com"}, rt("any")),
	))
	tests := []struct {
		req  rq
		want string
	}{
		{get("/exact").withHost("api.example.com"), "exact"},
		{get("/exact").withHost("API.Example.com:8080"), "exact"},
		{get("/fold/x").withHost("api.example.com"), "fold"},
		{get("/h").withHost("api.example.com").withHeader("X-Env", "prod"), "header-exact"},
		{get("/h").withHost("api.example.com").withHeader("User-Agent", "curl/8"), "header-prefix"},
		{get("/h").withHost("api.example.com").withHeader("X-Debug", ""), "header-present"},
		{get("/h").withHost("api.example.com").withHeader("X-A", "1").withHeader("X-A", "2"), "header-joined"},
		{get("/w").withHost("api.example.com"), "without"},
		{get("/q?a=1&v=2").withHost("api.example.com"), "query"},
		{get("/q?debug").withHost("api.example.com"), "query-present"},
		{get("/x").withHost("api.example.com").withTLS().withMethod("POST"), "scheme-method"},
		{get("/x").withHost("api.example.com:80"), "authority"},
		{get("/p").withHost("api.example.com"), "prefix"},
		{get("/none").withHost("api.example.com"), "<nil>"},
		{get("/").withHost("a.b.example.com"), "any"},
		{get("/").withHost("nowhere.org"), "<nil>"},
	}
	for _, tc := range tests {
		r := tc.req.build()
		if _, got := tab.Route(r); routeName(got) != tc.want {
			t.Errorf("%s %s: route %s, want %s", r.Host, r.RequestURI, routeName(got), tc.want)
			continue
		}
		if n := testing.AllocsPerRun(100, func() { tab.Route(r) }); n != 0 {
			t.Errorf("%s %s: %v allocs per Route, want 0", r.Host, r.RequestURI, n)
		}
	}
}

// Route only reads the table, so concurrent lookups need no locks; the
// race detector checks that claim.
func TestConcurrentRoute(t *testing.T) {
	tab := New(fuzzListener())
	reqs := []*http.Request{
		get("/a%2Fb").build(),
		get("/api/x?a=x+y&d").withHost("API.example.com:80").withHeader("X-A", "1").build(),
		get("/v1/x").withHost("[::1]:443").withTLS().build(),
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				for _, r := range reqs {
					tab.Route(r)
				}
			}
		})
	}
	wg.Wait()
}
