// Package priority spreads one cluster's traffic over endpoint priority
// levels and, within a level, over localities, the way Envoy does for the
// clusters Istio programs (pick priority, then locality, then host).
//
// Place in meshgate: the data plane groups a cluster's endpoints into
// priorities (locality failover, failoverPriority) and localities, asks the
// health sources (EndpointSlice readiness, outlier detection) for each
// host's health, and calls New to build a Picker. The per-host algorithm
// (round robin, least request, ring hash, ...) comes from package lb through
// Options.NewPicker and runs inside the chosen locality.
//
// The package is pure: no I/O, no goroutines, no clocks. ComputeLoad and
// LocalityWeights are plain functions of their inputs. A Picker is
// immutable once built: health is read at build time only, so the caller
// rebuilds the Picker when health or membership changes (the slow path) and
// swaps it in atomically. Pick is the hot path: it takes no lock, does not
// allocate and is safe for concurrent use.
//
// Sources for the arithmetic, all Envoy architecture documentation
// (intro/arch_overview/upstream/load_balancing/…) and the behaviour of
// Envoy's LoadBalancerBase, which Istio gateways run:
//   - priority.rst: health score, normalized total health, priority load;
//   - degraded.rst: degraded hosts as a second tier inside each priority;
//   - panic_threshold.rst: panic and total panic;
//   - locality_weight.rst: effective locality weights;
//   - overprovisioning.rst: the 1.4 factor.
//
// Where the documentation's example tables and Envoy's code round
// differently, this package follows the code (see ComputeLoad).
package priority
