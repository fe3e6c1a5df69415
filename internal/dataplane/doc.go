// Package dataplane serves requests from the current Snapshot: it finds the
// route, picks a destination by weight and an endpoint by the cluster's
// load-balancing policy, and forwards the request.
//
// Apply is called by the single configuration writer; it derives the
// per-snapshot runtime (route tables, upstream pickers) and publishes it
// with one atomic store. Requests load that runtime once and use it until
// they finish, so a reload never changes a request half-way.
package dataplane
