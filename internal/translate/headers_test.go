package translate

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/meshgate/meshgate/internal/snapshot"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	networkingv1 "istio.io/api/networking/v1"
)

// TestCompileHeaders checks Istio's header operations: lower-cased,
// sorted names; host and :authority in a request set or add become the
// authority (set wins over add); pseudo-headers are never changed.
func TestCompileHeaders(t *testing.T) {
	ops := func(set, add map[string]string, remove ...string) *networkingv1.Headers_HeaderOperations {
		return &networkingv1.Headers_HeaderOperations{Set: set, Add: add, Remove: remove}
	}
	tests := []struct {
		name      string
		in        *networkingv1.Headers
		want      *snapshot.Headers
		authority string
		ok        bool
		diags     string
	}{
		{"sorted and lower-cased", &networkingv1.Headers{
			Request:  ops(map[string]string{"X-B": "2", "a": "1"}, map[string]string{"X-Add": "v"}, "X-Gone", "Cookie", "x-gone"),
			Response: ops(nil, nil, "Server"),
		}, &snapshot.Headers{
			Request: &snapshot.HeaderOps{
				Set:    []snapshot.Header{{Name: "a", Value: "1"}, {Name: "x-b", Value: "2"}},
				Add:    []snapshot.Header{{Name: "x-add", Value: "v"}},
				Remove: []string{"cookie", "x-gone"},
			},
			Response: &snapshot.HeaderOps{Remove: []string{"server"}},
		}, "", true, ""},
		{"host set becomes the authority", &networkingv1.Headers{Request: ops(map[string]string{"Host": "a.example.com", "x": "1"}, nil)},
			&snapshot.Headers{Request: &snapshot.HeaderOps{Set: []snapshot.Header{{Name: "x", Value: "1"}}}}, "a.example.com", true, ""},
		{":authority add becomes the authority", &networkingv1.Headers{Request: ops(nil, map[string]string{":authority": "b.example.com"})},
			nil, "b.example.com", true, ""},
		{"set wins over add", &networkingv1.Headers{Request: ops(map[string]string{"host": "set"}, map[string]string{"host": "add"})},
			nil, "set", true, "warning MG1810"},
		{"pseudo-headers ignored", &networkingv1.Headers{
			Request:  ops(map[string]string{":path": "/x"}, nil, ":method", "Host"),
			Response: ops(map[string]string{"host": "x"}, nil),
		}, nil, "", true, "warning MG1809,warning MG1809,warning MG1809,warning MG1809"},
		{"same name twice", &networkingv1.Headers{Request: ops(map[string]string{"X-A": "1", "x-a": "2"}, nil)},
			&snapshot.Headers{Request: &snapshot.HeaderOps{Set: []snapshot.Header{{Name: "x-a", Value: "1"}}}}, "", true, "warning MG1809"},
		{"envoy variable", &networkingv1.Headers{Request: ops(map[string]string{"x-ip": "%DOWNSTREAM_REMOTE_ADDRESS%"}, nil)},
			&snapshot.Headers{Request: &snapshot.HeaderOps{Set: []snapshot.Header{{Name: "x-ip", Value: "%DOWNSTREAM_REMOTE_ADDRESS%"}}}},
			"", true, "warning MG1815"},
		{"invalid name", &networkingv1.Headers{Request: ops(map[string]string{"x y": "1"}, nil)}, nil, "", false, "error MG1808"},
		{"invalid removal", &networkingv1.Headers{Response: ops(nil, nil, "a(b)")}, nil, "", false, "error MG1808"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, vs := policyBuilder()
			got, authority, ok := b.compileHeaders(vs, "spec.http[0].headers", tt.in)
			if ok != tt.ok || diagSummary(b.diags) != tt.diags {
				t.Fatalf("ok %v [%s], want %v [%s]", ok, diagSummary(b.diags), tt.ok, tt.diags)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
			if authority != tt.authority {
				t.Errorf("authority = %q, want %q", authority, tt.authority)
			}
		})
	}
}

// TestAuthorityPrecedence: rewrite.authority wins over a header set, and
// a route-level authority over a destination's (Envoy applies the route's
// host rewrite last).
func TestAuthorityPrecedence(t *testing.T) {
	bundle := canaryBundle()
	r := bundle.VirtualServices[0].Spec.Http[0]
	r.Route[1].Headers = &networkingv1.Headers{Request: &networkingv1.Headers_HeaderOperations{Set: map[string]string{"host": "v2.example.com"}}}
	snap, diags := Build(bundle, Identity{})
	mustNoDiags(t, diags)
	got := snap.Listeners[0].VirtualHosts[0].Routes[0]
	if got.Rewrite != nil || got.Destinations[0].Authority != "" || got.Destinations[1].Authority != "v2.example.com" {
		t.Errorf("destination authority: rewrite %+v, destinations %+v", got.Rewrite, got.Destinations)
	}

	r.Headers = &networkingv1.Headers{Request: &networkingv1.Headers_HeaderOperations{Set: map[string]string{"host": "route.example.com"}}}
	snap, diags = Build(bundle, Identity{})
	got = snap.Listeners[0].VirtualHosts[0].Routes[0]
	if got.Rewrite == nil || got.Rewrite.Authority != "route.example.com" || got.Destinations[1].Authority != "" ||
		!hasCode(diags, CodeAuthority) {
		t.Errorf("route authority: rewrite %+v, destinations %+v, diags [%s]", got.Rewrite, got.Destinations, diagSummary(diags))
	}

	r.Rewrite = &networkingv1.HTTPRewrite{Uri: "/x", Authority: "rewrite.example.com"}
	snap, _ = Build(bundle, Identity{})
	got = snap.Listeners[0].VirtualHosts[0].Routes[0]
	if want := (&snapshot.Rewrite{URI: "/x", Authority: "rewrite.example.com"}); !cmp.Equal(got.Rewrite, want) {
		t.Errorf("rewrite = %+v, want %+v", got.Rewrite, want)
	}
}

// TestCompileCORS checks Istio's corsPolicy rules and Envoy's "*" origin.
func TestCompileCORS(t *testing.T) {
	exact := func(s string) *networkingv1.StringMatch {
		return &networkingv1.StringMatch{MatchType: &networkingv1.StringMatch_Exact{Exact: s}}
	}
	tests := []struct {
		name  string
		in    *networkingv1.CorsPolicy
		want  *snapshot.CORSPolicy
		ok    bool
		diags string
	}{
		{"full", &networkingv1.CorsPolicy{
			AllowOrigins:        []*networkingv1.StringMatch{exact("https://a.example.com"), prefix("https://b."), regex(`https://.*\.c\.com`)},
			AllowMethods:        []string{"GET", "POST"},
			AllowHeaders:        []string{"authorization"},
			ExposeHeaders:       []string{"x-id"},
			MaxAge:              durationpb.New(time.Hour),
			AllowCredentials:    wrapperspb.Bool(true),
			UnmatchedPreflights: networkingv1.CorsPolicy_IGNORE,
		}, &snapshot.CORSPolicy{
			AllowOrigins: []snapshot.StringMatch{
				{Kind: snapshot.Exact, Value: "https://a.example.com"},
				{Kind: snapshot.Prefix, Value: "https://b."},
				{Kind: snapshot.Regex, Value: `https://.*\.c\.com`},
			},
			AllowMethods: []string{"GET", "POST"}, AllowHeaders: []string{"authorization"}, ExposeHeaders: []string{"x-id"},
			MaxAge: time.Hour, AllowCredentials: true, UnmatchedPreflights: "IGNORE",
		}, true, ""},
		{"star allows any origin", &networkingv1.CorsPolicy{AllowOrigins: []*networkingv1.StringMatch{exact("*"), regex(".*")}},
			&snapshot.CORSPolicy{AllowOrigins: []snapshot.StringMatch{{Kind: snapshot.Present}, {Kind: snapshot.Present}},
				UnmatchedPreflights: "FORWARD"}, true, ""},
		{"deprecated allowOrigin", &networkingv1.CorsPolicy{AllowOrigin: []string{"https://old.example.com", "*"}},
			&snapshot.CORSPolicy{AllowOrigins: []snapshot.StringMatch{{Kind: snapshot.Exact, Value: "https://old.example.com"}, {Kind: snapshot.Present}},
				UnmatchedPreflights: "FORWARD"}, true, ""},
		{"allowOrigins wins over allowOrigin", &networkingv1.CorsPolicy{
			AllowOrigins: []*networkingv1.StringMatch{exact("https://new")}, AllowOrigin: []string{"https://old"}},
			&snapshot.CORSPolicy{AllowOrigins: []snapshot.StringMatch{{Kind: snapshot.Exact, Value: "https://new"}},
				UnmatchedPreflights: "FORWARD"}, true, ""},
		{"no origins", &networkingv1.CorsPolicy{AllowMethods: []string{"*"}},
			&snapshot.CORSPolicy{AllowOrigins: []snapshot.StringMatch{}, AllowMethods: []string{"*"}, UnmatchedPreflights: "FORWARD"}, true, ""},
		{"empty origin", &networkingv1.CorsPolicy{AllowOrigins: []*networkingv1.StringMatch{exact("")}}, nil, false, "error MG1811"},
		{"bad origin regex", &networkingv1.CorsPolicy{AllowOrigins: []*networkingv1.StringMatch{regex("(")}}, nil, false, "error MG1301"},
		{"lower-case method", &networkingv1.CorsPolicy{AllowMethods: []string{"get"}}, nil, false, "error MG1811"},
		{"bad header", &networkingv1.CorsPolicy{ExposeHeaders: []string{"a b"}}, nil, false, "error MG1811"},
		{"star header", &networkingv1.CorsPolicy{AllowHeaders: []string{"*"}},
			&snapshot.CORSPolicy{AllowOrigins: []snapshot.StringMatch{}, AllowHeaders: []string{"*"}, UnmatchedPreflights: "FORWARD"}, true, ""},
		{"max age in milliseconds", &networkingv1.CorsPolicy{MaxAge: durationpb.New(1500 * time.Millisecond)}, nil, false, "error MG1811"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, vs := policyBuilder()
			got, ok := b.compileCORS(vs, "spec.http[0].corsPolicy", tt.in)
			if ok != tt.ok || diagSummary(b.diags) != tt.diags {
				t.Fatalf("ok %v [%s], want %v [%s]", ok, diagSummary(b.diags), tt.ok, tt.diags)
			}
			if diff := cmp.Diff(tt.want, got, ignoreCompiled); diff != "" {
				t.Errorf("cors (-want +got):\n%s", diff)
			}
			if got == nil {
				return
			}
			for _, o := range got.AllowOrigins {
				if o.Kind == snapshot.Regex && o.Compiled == nil {
					t.Errorf("regex origin %q is not compiled", o.Value)
				}
			}
		})
	}
}
