package tcpproxy

import (
	"testing"

	"github.com/meshgate/meshgate/internal/snapshot"
)

func TestMatchSNI(t *testing.T) {
	tests := []struct {
		names []string
		sni   string
		want  int
	}{
		{[]string{"a.example.com"}, "a.example.com", exactScore},
		{[]string{"*.example.com"}, "a.example.com", len(".example.com")},
		{[]string{"*.example.com"}, "a.b.example.com", len(".example.com")},
		{[]string{"*.example.com"}, "example.com", NoMatch},
		{[]string{"*"}, "anything", anyScore},
		{[]string{"*"}, "", anyScore},
		{[]string{"a.example.com", "*.example.com"}, "", NoMatch},
		{[]string{"*.example.com", "*.b.example.com"}, "a.b.example.com", len(".b.example.com")},
		{[]string{"b.example.com"}, "a.example.com", NoMatch},
		{nil, "a.example.com", NoMatch},
	}
	for _, tt := range tests {
		if got := MatchSNI(tt.names, tt.sni); got != tt.want {
			t.Errorf("MatchSNI(%q, %q) = %d, want %d", tt.names, tt.sni, got, tt.want)
		}
	}
}

func TestRouteFor(t *testing.T) {
	r := func(name string, sni ...string) *snapshot.L4Route {
		return &snapshot.L4Route{Name: name, SNIHosts: sni}
	}
	routes := []*snapshot.L4Route{
		r("wildcard", "*.example.com"),
		r("exact", "a.example.com"),
		r("deeper", "*.b.example.com"),
		r("wildcard-again", "*.example.com"),
	}
	tests := []struct {
		routes []*snapshot.L4Route
		sni    string
		want   string
	}{
		{routes, "a.example.com", "exact"},
		{routes, "x.b.example.com", "deeper"},
		{routes, "c.example.com", "wildcard"}, // first on a tie
		{routes, "other.org", ""},
		{routes, "", ""},
		{[]*snapshot.L4Route{r("tcp"), r("later")}, "", "tcp"},
		{[]*snapshot.L4Route{r("any"), r("exact", "a.example.com")}, "a.example.com", "exact"},
	}
	for _, tt := range tests {
		got := RouteFor(tt.routes, tt.sni)
		name := ""
		if got != nil {
			name = got.Name
		}
		if name != tt.want {
			t.Errorf("RouteFor(%q) = %q, want %q", tt.sni, name, tt.want)
		}
	}
}
