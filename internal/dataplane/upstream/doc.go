// Package upstream is the per-cluster runtime of the data plane: the hosts
// of each cluster with their live counters, the picker that balances over
// them, and the transports that carry requests to them.
//
// A Set is built from a Snapshot on the slow path (config change) and is
// then read-only, except for each cluster's picker, which is replaced as a
// whole when a host's health changes. Hosts and transports live in a
// Registry that outlives Sets, keyed by endpoint identity and transport
// settings, so in-flight counters and pooled connections survive
// configuration reloads; so do, per cluster name, the outlier detector
// with its ejections and counters, its sweep schedule, and the spillover
// counters.
//
// Balancing follows Envoy: priority by health (package lb/priority), then
// locality, then host (package lb). A cluster with nothing to fail over
// keeps the plain host picker. Outlier detection (package outlier) feeds
// ejections into the priority health; load-based spillover, a meshgate
// extension, moves part of a saturated priority's traffic to the next one
// (see spill.go).
package upstream
