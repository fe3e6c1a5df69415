package router

import (
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/internal/snapshot"
)

func TestExplain(t *testing.T) {
	l := listener(
		vhostOf("shop", []string{"shop.example.com", "*.shop.example.com"},
			rt("api", snapshot.Match{URI: prefix("/api"), Method: exact("POST")}),
			rt("jason", snapshot.Match{Headers: []snapshot.HeaderMatch{{Name: "end-user", Value: *exact("jason")}}}),
			rt("not-bot", snapshot.Match{WithoutHeaders: []snapshot.HeaderMatch{{Name: "x-bot", Value: *present()}}, QueryParams: []snapshot.QueryMatch{{Name: "v", Value: *exact("2")}}}),
			rt("elsewhere", snapshot.Match{Port: 9999}),
			rt("default"),
		),
	)
	tests := []struct {
		name       string
		req        rq
		route      string
		domainKind string
		failed     []string // the Failed text of each route before the chosen one
	}{
		{"no virtual host", get("/").withHost("other.org"), "", "", nil},
		{"first route", get("/api/x").withMethod("POST").withHost("shop.example.com"), "api", "exact", nil},
		{"falls through to default", get("/api/x").withHost("a.shop.example.com:8080"), "default", "wildcard", []string{
			`method exact "POST" does not match "GET"`,
			`header end-user is absent`,
			`query parameter v is absent`,
			`port 9999 is not the listener's port 8080`,
		}},
		{"header and withoutHeaders", get("/x?v=2").withHost("shop.example.com").withHeader("end-user", "bob").withHeader("x-bot", "1"), "default", "exact", []string{
			`uri prefix "/api" does not match "/x"`,
			`header end-user exact "jason" does not match "bob"`,
			`withoutHeaders x-bot: the request's "1" matches present`,
			`port 9999 is not the listener's port 8080`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.req.build()
			e := Explain(l, r)
			_, want := New(l).Route(r)
			if e.Route != want {
				t.Fatalf("Explain chose %v, Route chose %v", e.Route, want)
			}
			got := ""
			if e.Route != nil {
				got = e.Route.Name
			}
			if got != tc.route || e.DomainKind != tc.domainKind {
				t.Fatalf("route %q via %q domain, want %q via %q", got, e.DomainKind, tc.route, tc.domainKind)
			}
			for i, f := range tc.failed {
				if i >= len(e.Routes) || len(e.Routes[i].Matches) == 0 || e.Routes[i].Matches[0].Failed != f {
					t.Errorf("route %d: want failure %q, got %+v", i, f, e.Routes[i])
				}
			}
		})
	}
}

// FuzzExplain checks that Explain always agrees with Route.
func FuzzExplain(f *testing.F) {
	f.Add("example.com", "GET", "/a%2Fb", "a=x+y&d", "x-a", "1,2")
	f.Add("x.a.example.com", "HEAD", "/api/v1", "b=p&&c=12", "X-B", "pp")
	f.Add("[::1]:443", "POST", "/port", "a=%zz&a", "x-c", "")
	l := fuzzListener()
	tab := New(l)
	f.Fuzz(func(t *testing.T, host, method, target, query, hname, hval string) {
		r := &http.Request{Method: method, Host: host, RequestURI: target, URL: &url.URL{Path: target, RawQuery: query}, Header: http.Header{}}
		if query != "" {
			r.RequestURI += "?" + query
		}
		r.Header[textproto.CanonicalMIMEHeaderKey(hname)] = strings.Split(hval, ";")
		vh, route := tab.Route(r)
		e := Explain(l, r)
		if e.VirtualHost != vh || e.Route != route {
			t.Fatalf("Explain says %v/%v, Route says %v/%v", e.VirtualHost, e.Route, vh, route)
		}
		for _, rr := range e.Routes {
			for _, m := range rr.Matches {
				if m.Matched == (m.Failed != "") {
					t.Fatalf("match result %+v is inconsistent", m)
				}
			}
		}
	})
}
