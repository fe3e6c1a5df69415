package translate

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
	"google.golang.org/protobuf/types/known/durationpb"
	networkingv1 "istio.io/api/networking/v1"
)

func exactMatch(s string) *snapshot.StringMatch {
	return &snapshot.StringMatch{Kind: snapshot.Exact, Value: s}
}
func prefixMatch(s string) *snapshot.StringMatch {
	return &snapshot.StringMatch{Kind: snapshot.Prefix, Value: s}
}
func regexMatch(s string) *snapshot.StringMatch {
	return &snapshot.StringMatch{Kind: snapshot.Regex, Value: s}
}

// TestStringConflict follows the API's rule that a delegate's match must
// be a strict subset of the root's, and its regex rule.
func TestStringConflict(t *testing.T) {
	tests := []struct {
		name       string
		root, leaf *snapshot.StringMatch
		conflict   bool
	}{
		{"root unset", nil, prefixMatch("/a"), false},
		{"leaf unset", prefixMatch("/a"), nil, false},
		{"longer prefix", prefixMatch("/a"), prefixMatch("/a/b"), false},
		{"same prefix", prefixMatch("/a"), prefixMatch("/a"), false},
		{"shorter prefix", prefixMatch("/a/b"), prefixMatch("/a"), true},
		{"exact under prefix", prefixMatch("/a"), exactMatch("/a/x"), false},
		{"exact outside prefix", prefixMatch("/a"), exactMatch("/b"), true},
		{"same exact", exactMatch("/a"), exactMatch("/a"), false},
		{"other exact", exactMatch("/a"), exactMatch("/b"), true},
		{"prefix under exact", exactMatch("/a"), prefixMatch("/a"), true},
		{"regex root", regexMatch("/a.*"), prefixMatch("/a"), true},
		{"regex leaf", prefixMatch("/a"), regexMatch("/a/.*"), true},
		{"presence", &snapshot.StringMatch{Kind: snapshot.Present}, exactMatch("x"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := stringConflict(tt.root, tt.leaf); got != tt.conflict {
				t.Errorf("stringConflict = %v, want %v", got, tt.conflict)
			}
		})
	}
}

// TestMergeMatches: each delegate match is merged with every root match
// it fits; one that fits none makes the delegate route conflict.
func TestMergeMatches(t *testing.T) {
	m := func(uri *snapshot.StringMatch, headers ...snapshot.HeaderMatch) compiledMatch {
		return compiledMatch{match: snapshot.Match{URI: uri, Headers: headers}}
	}
	h := func(name, value string) snapshot.HeaderMatch {
		return snapshot.HeaderMatch{Name: name, Value: *exactMatch(value)}
	}
	root := []compiledMatch{m(prefixMatch("/a"), h("x-env", "prod")), m(prefixMatch("/b"))}

	got, conflict := mergeMatches(root, []compiledMatch{m(prefixMatch("/a/1"), h("x-user", "u"))})
	want := []snapshot.Match{{URI: prefixMatch("/a/1"), Headers: []snapshot.HeaderMatch{h("x-env", "prod"), h("x-user", "u")}}}
	if conflict || len(got) != 1 || !cmp.Equal(got[0].match, want[0], ignoreCompiled) {
		t.Errorf("merge = %+v, %v; want %+v", got, conflict, want)
	}

	// A header-only delegate match fits both root matches.
	got, conflict = mergeMatches(root, []compiledMatch{m(nil, h("x-user", "u"))})
	if conflict || len(got) != 2 || got[0].match.URI.Value != "/a" || got[1].match.URI.Value != "/b" {
		t.Errorf("header-only merge = %+v, %v", got, conflict)
	}

	// A delegate header that contradicts the root's conflicts.
	if _, conflict = mergeMatches(root[:1], []compiledMatch{m(prefixMatch("/a"), h("x-env", "dev"))}); !conflict {
		t.Error("contradicting header did not conflict")
	}
	if _, conflict = mergeMatches(root, []compiledMatch{m(prefixMatch("/c"))}); !conflict {
		t.Error("path outside every root match did not conflict")
	}
	// Either side without matches takes the other's.
	if got, conflict = mergeMatches(nil, root); conflict || len(got) != 2 {
		t.Errorf("root without matches: %+v, %v", got, conflict)
	}
	if got, conflict = mergeMatches(root, nil); conflict || len(got) != 2 {
		t.Errorf("delegate without matches: %+v, %v", got, conflict)
	}
}

func TestMergedRouteName(t *testing.T) {
	for _, tt := range [][3]string{{"root", "leaf", "root-leaf"}, {"root", "", "root"}, {"", "leaf", "leaf"}, {"", "", ""}} {
		if got := mergedRouteName(tt[0], tt[1]); got != tt[2] {
			t.Errorf("mergedRouteName(%q, %q) = %q, want %q", tt[0], tt[1], got, tt[2])
		}
	}
}

func TestExportedToNamespace(t *testing.T) {
	tests := []struct {
		exportTo, def []string
		viewer        string
		want          bool
	}{
		{nil, nil, "other", true},
		{[]string{"*"}, nil, "other", true},
		{[]string{"."}, nil, "team", true},
		{[]string{"."}, nil, "other", false},
		{[]string{"~"}, nil, "team", false},
		{[]string{"a", "other"}, nil, "other", true},
		{[]string{"a"}, nil, "team", false},
		// The mesh default applies only when exportTo is empty.
		{nil, []string{"."}, "other", false},
		{nil, []string{"."}, "team", true},
		{[]string{"*"}, []string{"."}, "other", true},
		{nil, []string{"~"}, "team", false},
	}
	for _, tt := range tests {
		if got := exportedToNamespace(tt.exportTo, tt.def, "team", tt.viewer); got != tt.want {
			t.Errorf("exportedToNamespace(%v, default %v, team, %s) = %v, want %v", tt.exportTo, tt.def, tt.viewer, got, tt.want)
		}
	}
}

// delegateBundle is the canary bundle with its route delegated to
// default/team, whose routes are given.
func delegateBundle(root *networkingv1.HTTPRoute, routes ...*networkingv1.HTTPRoute) *resource.Bundle {
	b := canaryBundle()
	b.VirtualServices[0].Spec.Http = []*networkingv1.HTTPRoute{root}
	b.VirtualServices = append(b.VirtualServices,
		virtualServiceObj("default", "team", &networkingv1.VirtualService{Http: routes}))
	return b
}

// TestDelegateInheritsRootPolicy: what a delegate route leaves unset comes
// from the root route, what it sets wins.
func TestDelegateInheritsRootPolicy(t *testing.T) {
	root := &networkingv1.HTTPRoute{
		Name:     "root",
		Match:    []*networkingv1.HTTPMatchRequest{{Uri: prefix("/team")}},
		Delegate: &networkingv1.Delegate{Name: "team"},
		Timeout:  durationpb.New(10 * time.Second),
		Retries:  &networkingv1.HTTPRetry{Attempts: 7},
		Headers:  &networkingv1.Headers{Response: &networkingv1.Headers_HeaderOperations{Set: map[string]string{"x-root": "1"}}},
	}
	own := &networkingv1.HTTPRoute{
		Name:    "own",
		Match:   []*networkingv1.HTTPMatchRequest{{Uri: prefix("/team/own")}},
		Route:   []*networkingv1.HTTPRouteDestination{route("echoserver-service", "v1", 0)},
		Timeout: durationpb.New(time.Second),
	}
	inherit := &networkingv1.HTTPRoute{Route: []*networkingv1.HTTPRouteDestination{route("echoserver-service", "v2", 0)}}
	snap, diags := Build(delegateBundle(root, own, inherit), Identity{})
	for _, d := range diags {
		if d.Code != CodeMeshOnly { // until delegates are skipped when binding
			t.Errorf("unexpected diagnostic: %s", d)
		}
	}
	routes := snap.Listeners[0].VirtualHosts[0].Routes
	if len(routes) != 2 {
		t.Fatalf("routes = %d, want 2", len(routes))
	}
	first, second := routes[0], routes[1]
	if first.Name != "root-own" || first.Delegate != "default/team" || first.VirtualService != "default/echo" ||
		first.Timeout != time.Second || first.Retry.Attempts != 7 || first.Headers == nil {
		t.Errorf("first route = %+v", first)
	}
	if second.Name != "root" || second.Timeout != 10*time.Second || second.Matches[0].URI.Value != "/team" {
		t.Errorf("second route = %+v", second)
	}
}

// TestDelegateProblems: a missing delegate, a nested delegate and a
// conflicting delegate route each drop only what they concern.
func TestDelegateProblems(t *testing.T) {
	root := &networkingv1.HTTPRoute{
		Match:    []*networkingv1.HTTPMatchRequest{{Uri: prefix("/team")}},
		Delegate: &networkingv1.Delegate{Name: "team"},
	}
	nested := &networkingv1.HTTPRoute{Delegate: &networkingv1.Delegate{Name: "deeper"}}
	conflicting := &networkingv1.HTTPRoute{
		Match: []*networkingv1.HTTPMatchRequest{{Uri: prefix("/elsewhere")}},
		Route: []*networkingv1.HTTPRouteDestination{route("echoserver-service", "v1", 0)},
	}
	good := &networkingv1.HTTPRoute{Route: []*networkingv1.HTTPRouteDestination{route("echoserver-service", "v1", 0)}}
	snap, diags := Build(delegateBundle(root, nested, conflicting, good), Identity{})
	if !hasCode(diags, CodeDelegate) || !hasCode(diags, CodeDelegateConflict) {
		t.Errorf("diagnostics = [%s]", diagSummary(diags))
	}
	if routes := snap.Listeners[0].VirtualHosts[0].Routes; len(routes) != 1 || routes[0].Matches[0].URI.Value != "/team" {
		t.Errorf("routes = %+v", routes)
	}

	missing := canaryBundle()
	missing.VirtualServices[0].Spec.Http[0] = &networkingv1.HTTPRoute{Delegate: &networkingv1.Delegate{Name: "nope", Namespace: "x"}}
	snap, diags = Build(missing, Identity{})
	if !hasCode(diags, CodeDelegate) || len(snap.Listeners) != 1 || len(snap.Listeners[0].VirtualHosts) != 0 {
		t.Errorf("missing delegate: diags [%s], listeners %+v", diagSummary(diags), snap.Listeners)
	}
}
