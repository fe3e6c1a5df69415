// Package upstream is the per-cluster runtime of the data plane: the hosts
// of each cluster with their live counters, the picker that balances over
// them, and the transports that carry requests to them.
//
// A Set is built from a Snapshot on the slow path (config change) and is
// then read-only. Hosts and transports live in a Registry that outlives
// Sets, keyed by endpoint identity and transport settings, so in-flight
// counters and pooled connections survive configuration reloads.
package upstream
