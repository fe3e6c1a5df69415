package router

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/meshgate/meshgate/internal/snapshot"
)

// This file answers "why did this request go where it went" for
// operators (meshgate explain). It reuses the matchers Route uses, so the
// explanation cannot drift from routing, but evaluates every condition
// and says which failed. It allocates freely and is never on the request
// path.

// Explanation is how a listener's routing table treats one request.
type Explanation struct {
	// Host is the Host header as routing reads it: port removed,
	// lower-cased.
	Host string
	// VirtualHost is the virtual host serving Host, nil when none does.
	VirtualHost *snapshot.VirtualHost
	// Domain is the domain of VirtualHost that matched Host, and
	// DomainKind how: "exact", "wildcard" (a "*." suffix) or "any" ("*").
	Domain     string
	DomainKind string
	// Routes are the virtual host's routes in order, up to and including
	// the chosen one (all of them when none matched).
	Routes []RouteResult
	// Route is the route chosen, nil when none matched.
	Route *snapshot.Route
}

// RouteResult says whether one route matched the request.
type RouteResult struct {
	Route   *snapshot.Route
	Matched bool
	// CatchAll is set for a route without matches: it takes every request.
	CatchAll bool
	// Matches has one entry per match of the route; the route matches
	// when any does.
	Matches []MatchResult
}

// MatchResult is one HTTPMatchRequest of a route.
type MatchResult struct {
	Name    string
	Matched bool
	// Failed is the first condition that did not hold, in words, e.g.
	// `uri prefix "/api" does not match "/v1/x"`. Empty when Matched.
	Failed string
}

// Explain routes r through the routing table of listener l and reports
// every decision. Its verdict is the one New(l).Route(r) gives.
func Explain(l *snapshot.Listener, r *http.Request) Explanation {
	t := New(l)
	host := lowerASCII(stripPort(r.Host))
	e := Explanation{Host: host}
	vh := t.hosts.lookup(r.Host)
	if vh == nil {
		return e
	}
	e.VirtualHost = vh.vh
	e.Domain, e.DomainKind = t.hosts.matchedDomain(host, vh)
	q := request{r: r, path: requestPath(r)}
	for _, sr := range vh.vh.Routes {
		res := RouteResult{Route: sr, CatchAll: len(sr.Matches) == 0}
		if res.CatchAll {
			res.Matched = true
		}
		for i := range sr.Matches {
			mr := explainMatch(&sr.Matches[i], l.Port, &q)
			res.Matches = append(res.Matches, mr)
			res.Matched = res.Matched || mr.Matched
		}
		e.Routes = append(e.Routes, res)
		if res.Matched {
			e.Route = sr
			break
		}
	}
	return e
}

// matchedDomain names the domain of vh that host matched, as lookup
// found it: exact first, then the longest wildcard, then "*".
func (h *hostIndex) matchedDomain(host string, vh *vhost) (string, string) {
	if h.exact[host] == vh {
		return host, "exact"
	}
	for i := 1; i < len(host); i++ {
		if host[i] != '.' {
			continue
		}
		if h.suffix[host[i:]] == vh {
			return "*" + host[i:], "wildcard"
		}
	}
	return "*", "any"
}

// explainMatch evaluates every condition of sm in the order match.matches
// does and reports the first that fails.
func explainMatch(sm *snapshot.Match, port uint32, q *request) MatchResult {
	res := MatchResult{Name: sm.Name}
	if sm.Port != 0 && sm.Port != port {
		res.Failed = fmt.Sprintf("port %d is not the listener's port %d", sm.Port, port)
		return res
	}
	m := newMatch(sm)
	check := func(what string, sm *snapshot.StringMatch, mm *stringMatcher, got string) bool {
		if mm.match(got) {
			return true
		}
		res.Failed = fmt.Sprintf("%s %s does not match %q", what, describe(sm, mm), got)
		return false
	}
	if !check("uri", sm.URI, &m.uri, q.path) || !check("method", sm.Method, &m.method, q.r.Method) ||
		!check("scheme", sm.Scheme, &m.scheme, q.scheme()) || !check("authority", sm.Authority, &m.authority, q.r.Host) {
		return res
	}
	for i := range m.headers {
		hm := &m.headers[i]
		if hm.matches(q) {
			continue
		}
		res.Failed = describeHeader(sm, i, hm, q)
		return res
	}
	raw := q.rawQuery()
	for i := range m.query {
		qm := &m.query[i]
		if qm.matches(raw) {
			continue
		}
		v, ok := firstQueryValue(raw, qm.name)
		if !ok {
			res.Failed = fmt.Sprintf("query parameter %s is absent", qm.name)
		} else {
			res.Failed = fmt.Sprintf("query parameter %s %s does not match %q", qm.name, describe(&sm.QueryParams[i].Value, &qm.m), unescapeQuery(v))
		}
		return res
	}
	res.Matched = true
	return res
}

// describeHeader explains why header condition i of sm failed.
func describeHeader(sm *snapshot.Match, i int, hm *headerMatcher, q *request) string {
	var spec *snapshot.HeaderMatch
	kind := "header"
	if i < len(sm.Headers) {
		spec = &sm.Headers[i]
	} else {
		spec = &sm.WithoutHeaders[i-len(sm.Headers)]
		kind = "withoutHeaders"
	}
	var got string
	present := true
	if hm.source == fromHeader {
		vals := q.r.Header[hm.key]
		present = len(vals) > 0
		got = strings.Join(vals, ",")
	} else {
		got = q.pseudo(hm.source)
	}
	switch {
	case hm.invert:
		return fmt.Sprintf("%s %s: the request's %q matches %s", kind, spec.Name, got, describe(&spec.Value, &hm.m))
	case !present:
		return fmt.Sprintf("header %s is absent", spec.Name)
	}
	return fmt.Sprintf("header %s %s does not match %q", spec.Name, describe(&spec.Value, &hm.m), got)
}

// describe renders a string condition: `prefix "/api"`, `regex "v[0-9]+"`.
func describe(sm *snapshot.StringMatch, mm *stringMatcher) string {
	if mm.kind == kindNever {
		return "(an invalid condition that never matches)"
	}
	if sm == nil {
		return "anything"
	}
	kind := string(sm.Kind)
	if kind == "" {
		kind = string(snapshot.Present)
	}
	if mm.kind == kindExactFold || mm.kind == kindPrefixFold {
		kind += " (ignoring case)"
	}
	if sm.Kind == snapshot.Present {
		return "present"
	}
	return kind + " " + strconv.Quote(sm.Value)
}
