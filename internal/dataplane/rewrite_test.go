package dataplane

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/internal/snapshot"
)

func prefixMatch(p string) []snapshot.Match {
	return []snapshot.Match{{URI: &snapshot.StringMatch{Kind: snapshot.Prefix, Value: p}}}
}

// Rewrites change what the upstream sees, and the original path travels
// in x-envoy-original-path.
func TestRewrite(t *testing.T) {
	tests := []struct {
		name      string
		route     func(*snapshot.Route)
		path      string
		wantURI   string
		wantHost  string
		wantOrig  string
		wantNoHdr bool
	}{
		{"prefix replaced", func(r *snapshot.Route) {
			r.Matches = prefixMatch("/api/v1/")
			r.Rewrite = &snapshot.Rewrite{URI: "/v2/"}
		}, "/api/v1/users?x=1", "/v2/users?x=1", "example.com", "/api/v1/users?x=1", false},
		{"exact match replaces the whole path", func(r *snapshot.Route) {
			r.Matches = []snapshot.Match{{URI: &snapshot.StringMatch{Kind: snapshot.Exact, Value: "/old"}}}
			r.Rewrite = &snapshot.Rewrite{URI: "/new"}
		}, "/old", "/new", "example.com", "/old", false},
		{"prefix match ignoring case", func(r *snapshot.Route) {
			r.Matches = []snapshot.Match{{URI: &snapshot.StringMatch{Kind: snapshot.Prefix, Value: "/API/"}, IgnoreURICase: true}}
			r.Rewrite = &snapshot.Rewrite{URI: "/"}
		}, "/api/x", "/x", "example.com", "/api/x", false},
		{"catch-all route replaces the leading slash, as Envoy does", func(r *snapshot.Route) {
			r.Rewrite = &snapshot.Rewrite{URI: "/v2"}
		}, "/foo", "/v2foo", "example.com", "/foo", false},
		{"regex rewrite", func(r *snapshot.Route) {
			r.Rewrite = &snapshot.Rewrite{URIRegex: &snapshot.RegexRewrite{
				Match: "^/service/([^/]+)(/.*)$", Replacement: "${2}/instance/${1}"}}
		}, "/service/foo/v1/api?q", "/v1/api/instance/foo?q", "example.com", "/service/foo/v1/api?q", false},
		{"authority", func(r *snapshot.Route) {
			r.Rewrite = &snapshot.Rewrite{Authority: "internal.svc"}
		}, "/a", "/a", "internal.svc", "", true},
		{"destination authority", func(r *snapshot.Route) {
			r.Destinations[0].Authority = "dest.svc"
		}, "/a", "/a", "dest.svc", "", true},
		{"route authority wins over the destination's", func(r *snapshot.Route) {
			r.Destinations[0].Authority = "dest.svc"
			r.Rewrite = &snapshot.Rewrite{Authority: "route.svc"}
		}, "/a", "/a", "route.svc", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := backend(t, "b")
			g := startPolicyGateway(t, oneRouteSnapshot(routeWith("c", tc.route), cluster("c", snapshot.LBRoundRobin, b.Addr())), Options{})
			resp, body := g.send(t, "GET", tc.path, nil, "")
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			for _, want := range []string{"uri=" + tc.wantURI + "\n", "host=" + tc.wantHost + "\n"} {
				if !strings.Contains(body, want) {
					t.Errorf("upstream saw no %q in:\n%s", want, body)
				}
			}
			orig := "header X-Envoy-Original-Path="
			if tc.wantNoHdr {
				if strings.Contains(body, orig) {
					t.Errorf("x-envoy-original-path set without a path rewrite:\n%s", body)
				}
			} else if !strings.Contains(body, orig+tc.wantOrig+"\n") {
				t.Errorf("upstream saw no original path %q:\n%s", tc.wantOrig, body)
			}
		})
	}
}

func TestMatchedURI(t *testing.T) {
	rt := &snapshot.Route{Matches: []snapshot.Match{
		{URI: &snapshot.StringMatch{Kind: snapshot.Prefix, Value: "/p8080/"}, Port: 8080},
		{URI: &snapshot.StringMatch{Kind: snapshot.Prefix, Value: "/a/"}},
		{URI: &snapshot.StringMatch{Kind: snapshot.Regex, Value: "/r.*", Compiled: regexp.MustCompile("^(?:/r.*)$")}},
		{URI: &snapshot.StringMatch{Kind: snapshot.Prefix, Value: "/"}},
	}}
	for _, tc := range []struct {
		path string
		port uint32
		want string
	}{
		{"/a/b", 80, "/a/"},
		{"/p8080/x", 80, "/"},
		{"/p8080/x", 8080, "/p8080/"},
		{"/rest", 80, "/rest"},
		{"/zzz", 80, "/"},
	} {
		if got, ok := matchedURI(rt, tc.path, tc.port); !ok || got != tc.want {
			t.Errorf("matchedURI(%q, port %d) = %q, %v; want %q", tc.path, tc.port, got, ok, tc.want)
		}
	}
}

// Redirects build Location as Envoy does, and the route's response
// headers decorate them.
func TestRedirect(t *testing.T) {
	tests := []struct {
		name     string
		rd       snapshot.Redirect
		matches  []snapshot.Match
		host     string
		path     string
		wantCode int
		wantLoc  string
	}{
		{"uri keeps the query", snapshot.Redirect{URI: "/new"}, nil,
			"example.com", "/old?a=1", 301, "http://example.com/new?a=1"},
		{"uri with its own query", snapshot.Redirect{URI: "/new?b=2"}, nil,
			"example.com", "/old?a=1", 301, "http://example.com/new?b=2"},
		{"request port kept", snapshot.Redirect{URI: "/new", Code: 302}, nil,
			"example.com:8080", "/old", 302, "http://example.com:8080/new"},
		{"prefix rewrite", snapshot.Redirect{PrefixRewrite: "/new/", Code: 308}, prefixMatch("/old/"),
			"example.com", "/old/x?q=1", 308, "http://example.com/new/x?q=1"},
		{"authority", snapshot.Redirect{Authority: "other.com", Code: 307}, nil,
			"example.com:8080", "/p", 307, "http://other.com/p"},
		{"scheme change drops the old default port", snapshot.Redirect{Scheme: "https"}, nil,
			"example.com:80", "/p", 301, "https://example.com/p"},
		{"scheme change keeps another port", snapshot.Redirect{Scheme: "https"}, nil,
			"example.com:8080", "/p", 301, "https://example.com:8080/p"},
		{"port", snapshot.Redirect{Port: 8443, Scheme: "https"}, nil,
			"example.com:8080", "/p", 301, "https://example.com:8443/p"},
		{"derivePort from protocol default", snapshot.Redirect{Scheme: "https", DerivePort: "FROM_PROTOCOL_DEFAULT"}, nil,
			"example.com:8080", "/p", 301, "https://example.com/p"},
		{"derivePort from request port", snapshot.Redirect{Port: 8080, DerivePort: "FROM_REQUEST_PORT"}, nil,
			"example.com:8080", "/p", 301, "http://example.com:8080/p"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rd := tc.rd
			rt := &snapshot.Route{Name: "r", Matches: tc.matches, Redirect: &rd,
				Headers: &snapshot.Headers{Response: &snapshot.HeaderOps{Set: []snapshot.Header{{Name: "x-route", Value: "yes"}}}}}
			g := startPolicyGateway(t, oneRouteSnapshot(rt), Options{})
			req, _ := http.NewRequest("GET", g.url+tc.path, nil)
			req.Host = tc.host
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.wantCode || resp.Header.Get("Location") != tc.wantLoc || resp.Header.Get("X-Route") != "yes" {
				t.Errorf("got %d Location %q x-route %q, want %d %q yes", resp.StatusCode,
					resp.Header.Get("Location"), resp.Header.Get("X-Route"), tc.wantCode, tc.wantLoc)
			}
		})
	}
}

// A direct response answers from the gateway, with the route's response
// headers.
func TestDirectResponse(t *testing.T) {
	rt := &snapshot.Route{Name: "r", DirectResponse: &snapshot.DirectResponse{Status: 503, Body: []byte("maintenance")},
		Headers: &snapshot.Headers{Response: &snapshot.HeaderOps{Add: []snapshot.Header{{Name: "retry-after", Value: "60"}}}}}
	g := startPolicyGateway(t, oneRouteSnapshot(rt), Options{})
	resp, body := g.send(t, "GET", "/", nil, "")
	if resp.StatusCode != 503 || body != "maintenance" || resp.Header.Get("Retry-After") != "60" ||
		resp.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("got %d %q %v", resp.StatusCode, body, resp.Header)
	}
}
