package dataplane

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/meshgate/meshgate/internal/snapshot"
)

// rewriteRequest applies the authority and path rewrites of the route
// (and a destination's authority) to the outbound request, keeping the
// original path in x-envoy-original-path as Envoy does.
func rewriteRequest(out, in *http.Request, x *exchange) {
	rw := x.route.Rewrite
	switch {
	case rw != nil && rw.Authority != "":
		out.Host = rw.Authority
	case x.dest != nil && x.dest.Authority != "":
		out.Host = x.dest.Authority
	}
	if rw == nil || (rw.URI == "" && rw.URIRegex == nil) {
		return
	}
	path := in.URL.EscapedPath()
	var next string
	switch {
	case rw.URI != "":
		matched, ok := matchedURI(x.route, path, x.listener)
		if !ok {
			return
		}
		next = rw.URI + path[len(matched):]
	case x.plan.uriRegex != nil:
		next = x.plan.uriRegex.ReplaceAllString(path, rw.URIRegex.Replacement)
	default:
		return
	}
	if next == path {
		return
	}
	out.Header.Set("X-Envoy-Original-Path", in.URL.RequestURI())
	setPath(out.URL, next)
}

// setPath sets u's path from its escaped form, so the bytes forwarded are
// the ones the rewrite produced.
func setPath(u *url.URL, escaped string) {
	if p, err := url.PathUnescape(escaped); err == nil {
		u.Path, u.RawPath = p, escaped
		return
	}
	u.Path, u.RawPath = escaped, ""
}

// matchedURI returns the part of path that the route's URI condition
// matched, which a prefix rewrite replaces: the prefix of a prefix match,
// the whole path for an exact or regex match, and "/" for a match that
// tests no URI (Envoy's catch-all prefix). The router reports the route,
// not the match, so this takes the first match whose URI condition holds
// for the request's path and listener port. ok is false when none does.
func matchedURI(rt *snapshot.Route, path string, port uint32) (string, bool) {
	if len(rt.Matches) == 0 {
		return "/", strings.HasPrefix(path, "/")
	}
	for i := range rt.Matches {
		m := &rt.Matches[i]
		if m.Port != 0 && m.Port != port {
			continue
		}
		u := m.URI
		if u == nil {
			if strings.HasPrefix(path, "/") {
				return "/", true
			}
			continue
		}
		switch u.Kind {
		case snapshot.Prefix:
			if len(path) >= len(u.Value) && (path[:len(u.Value)] == u.Value ||
				m.IgnoreURICase && strings.EqualFold(path[:len(u.Value)], u.Value)) {
				return path[:len(u.Value)], true
			}
		case snapshot.Exact:
			if path == u.Value || m.IgnoreURICase && strings.EqualFold(path, u.Value) {
				return path, true
			}
		case snapshot.Regex:
			if u.Compiled == nil || u.Compiled.MatchString(path) {
				return path, true
			}
		}
	}
	return "", false
}

// writeRedirect answers with the route's redirect, building Location as
// Envoy does: scheme, then host (the redirect's authority, or the
// request's host with its port kept unless the scheme changes away from
// that port's default), then port, then path (uri, a prefix rewrite, or
// the request's path), keeping the query unless uri brings its own.
func writeRedirect(w http.ResponseWriter, r *http.Request, x *exchange, rd *snapshot.Redirect) {
	scheme := x.scheme
	if rd.Scheme != "" {
		scheme = rd.Scheme
	}
	var host string
	switch {
	case rd.Authority != "":
		host = rd.Authority
	case rd.Port != 0 || rd.DerivePort != "":
		host = hostOnly(r.Host)
	default:
		host = r.Host
		if h, p, err := net.SplitHostPort(r.Host); err == nil && scheme != x.scheme &&
			(x.scheme == "http" && p == "80" || x.scheme == "https" && p == "443") {
			host = h
		}
	}
	if rd.Port != 0 {
		h := hostOnly(host)
		h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
		host = net.JoinHostPort(h, strconv.FormatUint(uint64(rd.Port), 10))
	}
	path := r.URL.EscapedPath()
	query := r.URL.RawQuery
	switch {
	case rd.URI != "":
		path = rd.URI
		if p, q, ok := strings.Cut(rd.URI, "?"); ok {
			path, query = p, q
		}
	case rd.PrefixRewrite != "":
		if matched, ok := matchedURI(x.route, path, x.listener); ok {
			path = rd.PrefixRewrite + path[len(matched):]
		}
	}
	loc := scheme + "://" + host + path
	if query != "" {
		loc += "?" + query
	}
	code := int(rd.Code)
	if code == 0 {
		code = http.StatusMovedPermanently
	}
	h := w.Header()
	decorate(h, x)
	h.Set("Location", loc)
	w.WriteHeader(code)
}

// hostOnly strips a port from host, keeping IPv6 brackets.
func hostOnly(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		if strings.Contains(h, ":") {
			return "[" + h + "]"
		}
		return h
	}
	return host
}
