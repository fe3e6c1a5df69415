package dataplane

import (
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/echo"
	"github.com/meshgate/meshgate/internal/snapshot"
)

func corsPolicy(unmatched string) *snapshot.CORSPolicy {
	return &snapshot.CORSPolicy{
		AllowOrigins: []snapshot.StringMatch{
			{Kind: snapshot.Exact, Value: "https://a.example"},
			{Kind: snapshot.Prefix, Value: "https://dev."},
			{Kind: snapshot.Regex, Value: `https://.*\.corp\.com`, Compiled: regexp.MustCompile(`^(?:https://.*\.corp\.com)$`)},
		},
		AllowMethods:        []string{"GET", "POST"},
		AllowHeaders:        []string{"x-token"},
		ExposeHeaders:       []string{"x-echo-name"},
		MaxAge:              24 * time.Hour,
		AllowCredentials:    true,
		UnmatchedPreflights: unmatched,
	}
}

func preflight(origin string) http.Header {
	return hdr("Origin", origin, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "x-token")
}

func TestCORS(t *testing.T) {
	tests := []struct {
		name      string
		unmatched string
		method    string
		header    http.Header
		// wantUpstream says whether the backend answers.
		wantUpstream bool
		want         map[string]string // "" means absent
	}{
		{"preflight from an allowed origin is answered here", "", "OPTIONS", preflight("https://a.example"), false, map[string]string{
			"Access-Control-Allow-Origin": "https://a.example", "Access-Control-Allow-Methods": "GET,POST",
			"Access-Control-Allow-Headers": "x-token", "Access-Control-Max-Age": "86400",
			"Access-Control-Allow-Credentials": "true", "Access-Control-Expose-Headers": "",
		}},
		{"prefix origin", "", "OPTIONS", preflight("https://dev.example"), false, map[string]string{
			"Access-Control-Allow-Origin": "https://dev.example"}},
		{"regex origin", "", "OPTIONS", preflight("https://x.corp.com"), false, map[string]string{
			"Access-Control-Allow-Origin": "https://x.corp.com"}},
		{"actual request from an allowed origin", "", "GET", hdr("Origin", "https://a.example"), true, map[string]string{
			"Access-Control-Allow-Origin": "https://a.example", "Access-Control-Allow-Credentials": "true",
			"Access-Control-Expose-Headers": "x-echo-name", "Access-Control-Allow-Methods": "",
		}},
		{"actual request from another origin", "", "GET", hdr("Origin", "https://evil.example"), true, map[string]string{
			"Access-Control-Allow-Origin": "", "Access-Control-Allow-Credentials": ""}},
		{"unmatched preflight is forwarded by default", "", "OPTIONS", preflight("https://evil.example"), true, map[string]string{
			"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": ""}},
		{"unmatched preflight under FORWARD", "FORWARD", "OPTIONS", preflight("https://evil.example"), true, map[string]string{
			"Access-Control-Allow-Origin": ""}},
		{"unmatched preflight under IGNORE is answered without an origin", "IGNORE", "OPTIONS", preflight("https://evil.example"), false,
			map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": "GET,POST"}},
		{"OPTIONS without Access-Control-Request-Method is not a preflight", "", "OPTIONS", hdr("Origin", "https://a.example"), true,
			map[string]string{"Access-Control-Allow-Origin": "https://a.example"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := backend(t, "b")
			route := routeWith("c", func(r *snapshot.Route) { r.CORS = corsPolicy(tc.unmatched) })
			g := startPolicyGateway(t, oneRouteSnapshot(route, cluster("c", snapshot.LBRoundRobin, b.Addr())), Options{})
			resp, body := g.send(t, tc.method, "/", tc.header, "")
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if got := b.Requests() == 1; got != tc.wantUpstream {
				t.Errorf("backend saw %d requests, want upstream = %v", b.Requests(), tc.wantUpstream)
			}
			if !tc.wantUpstream && (body != "" || resp.Header.Get(echo.NameHeader) != "") {
				t.Errorf("preflight answered with body %q from %q, want an empty local answer", body, resp.Header.Get(echo.NameHeader))
			}
			for k, want := range tc.want {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

// A matcher that accepts the literal "*" allows every origin, and "*"
// methods or headers echo what the preflight asks for, as in Envoy.
func TestCORSWildcards(t *testing.T) {
	b := backend(t, "b")
	route := routeWith("c", func(r *snapshot.Route) {
		r.CORS = &snapshot.CORSPolicy{
			AllowOrigins: []snapshot.StringMatch{{Kind: snapshot.Exact, Value: "*"}},
			AllowMethods: []string{"*"}, AllowHeaders: []string{"*"},
		}
	})
	g := startPolicyGateway(t, oneRouteSnapshot(route, cluster("c", snapshot.LBRoundRobin, b.Addr())), Options{})
	resp, _ := g.send(t, "OPTIONS", "/", preflight("https://anyone.example"), "")
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://anyone.example" ||
		resp.Header.Get("Access-Control-Allow-Methods") != "POST" || resp.Header.Get("Access-Control-Allow-Headers") != "x-token" {
		t.Errorf("got %v", resp.Header)
	}
	if b.Requests() != 0 {
		t.Errorf("preflight forwarded")
	}
}
