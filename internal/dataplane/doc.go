// Package dataplane serves requests from the current Snapshot: it finds the
// route, picks a destination by weight and an endpoint by the cluster's
// load-balancing policy, and forwards the request.
//
// Apply is called by the single configuration writer; it derives the
// per-snapshot runtime (route tables, upstream pickers, prepared route
// policies) and publishes it with one atomic store. Requests load that
// runtime once and use it until they finish, so a reload never changes a
// request half-way.
//
// A request goes through the steps of Envoy's filter chain, in its order:
// gRPC-Web conversion (package grpcweb, around the whole handler), CORS
// (cors.go: preflights answered here), fault injection (fault.go: delay,
// then abort), then the router: a direct response or redirect
// (rewrite.go), or the choice of a destination and endpoint, the route's
// header operations and rewrites (headers.go, rewrite.go) and the
// attempts (retry.go, attempt.go) under the route timeout (timeout.go)
// and the cluster's circuit breakers (upstream/limits.go), with copies to
// the mirrors (mirror.go). Every response the route produces, relayed or
// local, gets its response header operations and CORS headers.
//
// Where meshgate differs from Envoy it says so next to the code: the
// pending-request count of a cold HTTP/1.1 pool (upstream/limits.go), the
// matched prefix of a rewrite (rewrite.go), mirrors of requests whose body
// exceeds the retry buffer (mirror.go).
package dataplane
