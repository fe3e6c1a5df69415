package router

import (
	"net/http"
	"strings"

	"github.com/meshgate/meshgate/internal/snapshot"
)

// Table routes the requests of one listener. It is immutable once New
// returns and safe for concurrent use.
type Table struct {
	hosts hostIndex
}

// vhost is a snapshot.VirtualHost with its routes prepared.
type vhost struct {
	vh     *snapshot.VirtualHost
	routes []route
}

// route is a snapshot.Route with its matches prepared.
type route struct {
	r *snapshot.Route
	// anyOf holds the prepared matches, any of which selects the route;
	// nil selects every request.
	anyOf []match
}

// New builds the routing table of l. A nil listener gives a table that
// matches nothing.
func New(l *snapshot.Listener) *Table {
	t := &Table{hosts: newHostIndex()}
	if l == nil {
		return t
	}
	for _, svh := range l.VirtualHosts {
		vh := &vhost{vh: svh}
		// The matches of all routes share one array, laid out in the order
		// the scan reads them. It is sized up front so that it never moves
		// and the routes can keep slices of it.
		n := 0
		for _, sr := range svh.Routes {
			n += len(sr.Matches)
		}
		all := make([]match, 0, n)
		for _, sr := range svh.Routes {
			lo := len(all)
			all = appendMatches(all, sr, l.Port)
			switch {
			case len(sr.Matches) == 0:
				vh.routes = append(vh.routes, route{r: sr})
			case len(all) > lo:
				vh.routes = append(vh.routes, route{r: sr, anyOf: all[lo:len(all):len(all)]})
			}
		}
		for _, d := range svh.Domains {
			t.hosts.add(d, vh)
		}
	}
	return t
}

// appendMatches appends the prepared matches of sr that can hold on a
// listener on port. A match that requires another port is dropped now
// rather than tested per request; a route left with none is unreachable
// and New leaves it out, which keeps the order of the others intact.
func appendMatches(dst []match, sr *snapshot.Route, port uint32) []match {
	for i := range sr.Matches {
		sm := &sr.Matches[i]
		if sm.Port != 0 && sm.Port != port {
			continue
		}
		dst = append(dst, newMatch(sm))
	}
	return dst
}

// Route returns the virtual host and route serving r. Both are nil when
// no virtual host serves r's Host; the route alone is nil when the virtual
// host has no route for r.
func (t *Table) Route(r *http.Request) (*snapshot.VirtualHost, *snapshot.Route) {
	if t == nil {
		return nil, nil
	}
	vh := t.hosts.lookup(r.Host)
	if vh == nil {
		return nil, nil
	}
	q := request{r: r, path: requestPath(r)}
	for i := range vh.routes {
		rt := &vh.routes[i]
		if rt.anyOf == nil {
			return vh.vh, rt.r
		}
		for j := range rt.anyOf {
			if rt.anyOf[j].matches(&q) {
				return vh.vh, rt.r
			}
		}
	}
	return vh.vh, nil
}

// requestPath returns the path the URI conditions match: the request
// target as the client sent it, still percent-encoded, without the query.
// r.URL.Path would be decoded ("/a%2Fb" read as "/a/b"), so a route could
// match a different path than the one forwarded upstream.
func requestPath(r *http.Request) string {
	p := r.RequestURI
	if p == "" {
		// A request built in-process rather than read from a connection.
		if r.URL == nil {
			return ""
		}
		return r.URL.EscapedPath()
	}
	if p[0] != '/' {
		// The absolute form "http://host/path?query" that proxies are sent.
		// "*" (OPTIONS) and the authority form (CONNECT) have no scheme and
		// are matched as they are.
		if _, rest, ok := strings.Cut(p, "://"); ok {
			i := strings.IndexAny(rest, "/?#")
			if i < 0 || rest[i] != '/' {
				return "/"
			}
			p = rest[i:]
		}
	}
	for i := 0; i < len(p); i++ {
		if p[i] == '?' || p[i] == '#' {
			return p[:i]
		}
	}
	return p
}
