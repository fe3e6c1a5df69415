// Package router selects the virtual host and route that serve a request.
//
// It sits on the data plane's hot path: every request calls Table.Route
// exactly once, before any filter or upstream work. A Table is built by New
// once per listener per snapshot, on the configuration path, and is never
// modified afterwards. It only reads the immutable snapshot it was built
// from, so any number of goroutines call Route concurrently without locks,
// and a new snapshot simply means a new Table.
//
// New does every piece of preparation that would otherwise cost on each
// request: domains are lower-cased into maps, header names are put in the
// canonical form net/http stores them under, regular expressions missing
// from the snapshot are compiled, and matches for another listener port are
// dropped. As a result Route allocates nothing for exact, prefix and present
// matches. The exceptions are rare and small: a regex on a header sent
// more than once needs the values joined, a query value with escapes is
// decoded into a copy, and a Host too long to be a DNS name is lower-cased
// on the heap.
//
// The semantics are those of the Envoy route configuration Istio generates
// for a gateway:
//
//   - The virtual host is chosen by the Host header (the :authority
//     pseudo-header for HTTP/2), lower-cased and with any port removed:
//     an exact domain first, then the longest "*." suffix wildcard, then
//     "*".
//   - Routes are tried in order and the first match wins. A route matches
//     when any of its matches does; a match holds when all its conditions
//     do; a route without matches matches everything.
//   - The URI is matched against the path as the client sent it, still
//     percent-encoded and without the query string. Normalising the path
//     (dot segments, merged slashes) is the HTTP layer's decision, taken
//     before routing, because the same path is forwarded upstream.
//   - The scheme is that of the connection ("https" when it carries TLS),
//     not X-Forwarded-Proto, which any client can set.
//   - A header sent several times is matched as its values joined with
//     ","; withoutHeaders reads a missing header as "" before inverting.
//   - A query parameter is matched by its first value, decoded; "?key"
//     alone is present with the value "".
//
// Both results of Route are nil when no virtual host serves the Host, and
// only the route is nil when the virtual host has no matching route; the
// data plane answers both with 404 and the NR response flag.
package router
