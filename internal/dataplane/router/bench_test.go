package router

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/meshgate/meshgate/internal/snapshot"
)

func BenchmarkRoute1(b *testing.B) {
	tab := New(listener(vhostOf("vh", []string{"example.com"},
		rt("r", snapshot.Match{URI: prefix("/")}),
	)))
	r := get("/index.html").withHost("example.com").build()
	benchRoute(b, tab, r, "r")
}

// BenchmarkRoute1000 is the worst case of a large gateway: 1,000 virtual
// hosts, and the request's own one has 1,000 routes of which only the last
// matches, each needing its URI, method and a header looked at.
func BenchmarkRoute1000(b *testing.B) {
	const n = 1000
	var vhs []*snapshot.VirtualHost
	for i := range n - 1 {
		vhs = append(vhs, vhostOf(fmt.Sprint("vh", i), []string{fmt.Sprintf("svc-%d.example.com", i)},
			rt("r", snapshot.Match{URI: prefix("/")})))
	}
	var routes []*snapshot.Route
	for i := range n {
		routes = append(routes, rt(fmt.Sprint("r", i), snapshot.Match{
			URI:     prefix(fmt.Sprintf("/api/v%d/", i)),
			Method:  exact("GET"),
			Headers: hdr("x-tenant", exact(fmt.Sprint("t", i))),
		}))
	}
	vhs = append(vhs, vhostOf("target", []string{fmt.Sprintf("svc-%d.example.com", n-1)}, routes...))
	tab := New(listener(vhs...))
	r := get(fmt.Sprintf("/api/v%d/items", n-1)).
		withHost(fmt.Sprintf("svc-%d.example.com:8080", n-1)).
		withHeader("X-Tenant", fmt.Sprint("t", n-1)).build()
	benchRoute(b, tab, r, fmt.Sprint("r", n-1))
}

func benchRoute(b *testing.B, tab *Table, r *http.Request, want string) {
	if _, got := tab.Route(r); routeName(got) != want {
		b.Fatalf("route %s, want %s", routeName(got), want)
	}
	b.ReportAllocs()
	for b.Loop() {
		tab.Route(r)
	}
}
