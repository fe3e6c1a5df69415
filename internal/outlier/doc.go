// Package outlier implements passive health checking for one cluster:
// Istio's DestinationRule trafficPolicy.outlierDetection with the semantics
// of the Envoy outlier detector that Istio programs (consecutive 5xx,
// consecutive gateway errors, consecutive local-origin failures, ejection
// with a growing multiplier, and the strict max_ejection_percent cap).
// Success-rate and failure-percentage detection are not exposed by Istio
// and are not implemented.
//
// Place in meshgate: the data plane keeps one Detector per cluster (per
// DestinationRule subset and port, as Envoy keeps one per cluster). The
// proxy reports every upstream attempt's outcome with Report; a Report that
// returns true has just ejected the host, and a periodic Sweep (every
// Policy.Interval, driven by the caller's ticker) returns true when hosts
// came back. Either way the caller rebuilds the cluster's load-balancing
// picker (package lb/priority), passing Ejected hosts as unhealthy, so
// ejections also drive priority failover and panic. On configuration
// reloads Rebuild carries the per-host state over to the new host list.
//
// The package is pure: no I/O, no goroutines, no clock of its own; every
// time-dependent call takes now, so tests pass explicit instants.
// Concurrency: Report, Ejected, Status and Stats may be called from any
// number of goroutines at once, and concurrently with Sweep and Rebuild.
// Report is the hot path: it uses atomics only, never a lock, and does not
// allocate. Sweep and Rebuild serialise with each other on a mutex; they
// are the slow path.
package outlier
