package dataplane

import (
	"net/http"
	"strings"

	"github.com/meshgate/meshgate/internal/snapshot"
)

// Istio's header operations. Envoy applies the most specific level first
// (the weighted destination, then the route), and within one level
// removes, then sets, then appends, so a `set` and an `add` of one name
// leave the set value plus the added one.

// requestHeaders applies the request operations of the destination and
// the route to the outbound request.
func requestHeaders(out *http.Request, x *exchange) {
	if x.dest != nil && x.dest.Headers != nil {
		applyHeaderOps(out.Header, x.dest.Headers.Request, out)
	}
	if x.route.Headers != nil {
		applyHeaderOps(out.Header, x.route.Headers.Request, out)
	}
}

// decorate applies what a route adds to every response it produces,
// relayed or local: the response header operations of the destination
// and the route, then the CORS headers of an allowed origin.
func decorate(h http.Header, x *exchange) {
	if x == nil || x.route == nil {
		return
	}
	if x.dest != nil && x.dest.Headers != nil {
		applyHeaderOps(h, x.dest.Headers.Response, nil)
	}
	if x.route.Headers != nil {
		applyHeaderOps(h, x.route.Headers.Response, nil)
	}
	if x.origin != "" {
		corsResponseHeaders(h, x)
	}
}

// applyHeaderOps applies one level of operations. On a request (req
// non-nil) setting host or :authority rewrites the authority, as Istio
// translates it; other pseudo-headers cannot be changed or removed.
func applyHeaderOps(h http.Header, ops *snapshot.HeaderOps, req *http.Request) {
	if ops == nil {
		return
	}
	for _, name := range ops.Remove {
		if isPseudoOrHost(name) {
			continue
		}
		h.Del(name)
	}
	for _, hd := range ops.Set {
		if isPseudoOrHost(hd.Name) {
			if req != nil && isAuthority(hd.Name) {
				req.Host = hd.Value
			}
			continue
		}
		h.Set(hd.Name, hd.Value)
	}
	for _, hd := range ops.Add {
		if isPseudoOrHost(hd.Name) {
			// Istio lets `set` win over `add` for the authority; an add
			// alone still rewrites it.
			if req != nil && isAuthority(hd.Name) && !setsAuthority(ops) {
				req.Host = hd.Value
			}
			continue
		}
		h.Add(hd.Name, hd.Value)
	}
}

func isPseudoOrHost(name string) bool {
	return strings.HasPrefix(name, ":") || strings.EqualFold(name, "host")
}

func isAuthority(name string) bool {
	return strings.EqualFold(name, "host") || name == ":authority"
}

func setsAuthority(ops *snapshot.HeaderOps) bool {
	for _, hd := range ops.Set {
		if isAuthority(hd.Name) {
			return true
		}
	}
	return false
}
