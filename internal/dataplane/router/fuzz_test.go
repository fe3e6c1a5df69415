package router

import (
	"crypto/tls"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/internal/snapshot"
)

// fuzzListener exercises every kind of condition and of domain.
func fuzzListener() *snapshot.Listener {
	routes := []*snapshot.Route{
		rt("uri", snapshot.Match{URI: exact("/a%2Fb")}, snapshot.Match{URI: prefix("/API/"), IgnoreURICase: true}),
		rt("regex", snapshot.Match{URI: regex("/v[0-9]+/.*")}, snapshot.Match{URI: compiled("/x|/y")}),
		rt("scheme-method", snapshot.Match{Scheme: exact("https"), Method: regex("GET|HEAD")}),
		rt("authority", snapshot.Match{Authority: prefix("api.")}),
		rt("headers", snapshot.Match{Headers: []snapshot.HeaderMatch{
			{Name: "x-a", Value: *exact("1,2")},
			{Name: "x-b", Value: *prefix("p")},
			{Name: "x-c", Value: *regex("c+")},
			{Name: "x-d", Value: *present()},
			{Name: ":path", Value: *prefix("/")},
			{Name: "host", Value: *regex(".*")},
		}}),
		rt("without", snapshot.Match{WithoutHeaders: []snapshot.HeaderMatch{
			{Name: "x-a", Value: *exact("1")},
			{Name: "x-b", Value: *present()},
			{Name: "x-c", Value: *regex("c*")},
		}}),
		rt("query", snapshot.Match{QueryParams: []snapshot.QueryMatch{
			{Name: "a", Value: *exact("x y")},
			{Name: "b", Value: *prefix("p")},
			{Name: "c", Value: *regex("[0-9]*")},
			{Name: "d", Value: *present()},
		}}),
		rt("port", snapshot.Match{Port: 8080, URI: prefix("/port")}, snapshot.Match{Port: 1}),
		rt("bad", snapshot.Match{URI: regex("(")}),
	}
	return listener(
		vhostOf("exact", []string{"example.com", "[::1]"}, routes...),
		vhostOf("wild", []string{"*.example.com", "*.a.example.com"}, routes...),
		vhostOf("any", []string{"*"}, routes[:3]...),
	)
}

// FuzzRoute feeds arbitrary hosts, targets, queries and headers through a
// fixed table. Route must not panic, must be deterministic, and must only
// return a route of the virtual host it returns. The helpers with an
// obvious reference implementation are checked against it on the way.
func FuzzRoute(f *testing.F) {
	f.Add("example.com", "GET", "/a%2Fb", "a=x+y&d", "x-a", "1,2")
	f.Add("API.example.com:8080", "HEAD", "/api/v1", "b=p&&c=12", "X-B", "pp")
	f.Add("[::1]:443", "POST", "http://h/x", "a=%zz&a", "x-c", "")
	f.Add("", "", "", "", "", "")
	f.Add("a.a.example.com.", "G", "*", "%", ":path", "%41")
	l := fuzzListener()
	tab := New(l)
	f.Fuzz(func(t *testing.T, host, method, target, query, hname, hval string) {
		r := &http.Request{
			Method:     method,
			Host:       host,
			RequestURI: target,
			URL:        &url.URL{Path: target, RawQuery: query},
			Header:     http.Header{},
		}
		if query != "" {
			r.RequestURI += "?" + query
		}
		key := textproto.CanonicalMIMEHeaderKey(hname)
		r.Header[key] = strings.Split(hval, ";")
		if len(hval)%2 == 1 {
			r.TLS = &tls.ConnectionState{}
		}

		vh, route := tab.Route(r)
		if vh == nil && route != nil {
			t.Fatalf("route %s without a virtual host", route.Name)
		}
		if route != nil && !slices.Contains(vh.Routes, route) {
			t.Fatalf("route %s is not in virtual host %s", route.Name, vh.Name)
		}
		if vh2, route2 := tab.Route(r); vh2 != vh || route2 != route {
			t.Fatalf("second lookup differs: %s/%s then %s/%s",
				vhostName(vh), routeName(route), vhostName(vh2), routeName(route2))
		}

		vals := r.Header[key]
		if got, want := joinedHasPrefix(vals, query), strings.HasPrefix(strings.Join(vals, ","), query); got != want {
			t.Fatalf("joinedHasPrefix(%q, %q) = %v, want %v", vals, query, got, want)
		}
		if dec, err := url.QueryUnescape(hname); err == nil {
			if got := unescapeQuery(hname); got != dec {
				t.Fatalf("unescapeQuery(%q) = %q, want %q", hname, got, dec)
			}
			if !queryKeyIs(hname, dec) {
				t.Fatalf("queryKeyIs(%q, %q) = false", hname, dec)
			}
		}
		if isASCII(host) {
			if want := naiveHost(l, host); vh != want {
				t.Fatalf("host %q: virtual host %s, want %s", host, vhostName(vh), vhostName(want))
			}
		}
	})
}

// naiveHost is host selection written the slow, obvious way: every domain
// of every virtual host compared in turn.
func naiveHost(l *snapshot.Listener, host string) *snapshot.VirtualHost {
	host = strings.ToLower(stripPort(host))
	var best *snapshot.VirtualHost
	bestLen := -1
	for _, vh := range l.VirtualHosts {
		for _, d := range vh.Domains {
			switch {
			case d == host:
				return exactOwner(l, host)
			case d == "*":
				if bestLen < 0 {
					best, bestLen = vh, 0
				}
			case strings.HasPrefix(d, "*.") && len(host) > len(d)-1 && strings.HasSuffix(host, d[1:]):
				if len(d) > bestLen {
					best, bestLen = vh, len(d)
				}
			}
		}
	}
	return best
}

// exactOwner is the first virtual host listing host exactly.
func exactOwner(l *snapshot.Listener, host string) *snapshot.VirtualHost {
	for _, vh := range l.VirtualHosts {
		if slices.Contains(vh.Domains, host) {
			return vh
		}
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
