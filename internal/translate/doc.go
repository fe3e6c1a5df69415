// Package translate compiles a resource.Bundle into the snapshot.Snapshot
// one gateway serves, following Istio's semantics for Gateway,
// VirtualService, DestinationRule, ServiceEntry, WorkloadEntry and
// Kubernetes Service objects.
//
// It sits between the sources and the data plane: the pipeline calls Build
// on every configuration change and publishes the result. Build is
//
//   - pure: no I/O, no clocks, no goroutines, no global state. It reads
//     the Bundle and never modifies it; the Snapshot shares nothing
//     mutable with it.
//   - total: it never fails. A user mistake becomes a diagnostic (with the
//     object, the field path and so the file and line) and only the
//     offending object, server, route or destination is left out; the
//     rest is built. Error diagnostics mean something was dropped;
//     warnings mean it was kept, perhaps not as the user expects.
//   - deterministic: identical inputs give byte-identical snapshot dumps
//     and the same diagnostics in the same order. Every slice derived from
//     a map is sorted, and objects are taken in Bundle order, which is
//     Istio's order (oldest first).
//
// The stages, one file each:
//
//   - services.go: the backend registry. Kubernetes Services with the
//     WorkloadEntries their selector matches, and ServiceEntry hosts with
//     their inline endpoints or selected WorkloadEntries.
//   - destinationrules.go: DestinationRules merged by namespace and host,
//     Istio's lookup order, and the per-cluster policy merge.
//   - gateways.go: the Gateways that select this gateway and their servers,
//     as listeners keyed by bind address and port, with Istio's conflict
//     rules (oldest first; TLS servers told apart by SNI host).
//   - tls.go, credentials.go and ciphers.go: a server's tls block: mode,
//     certificates from files or from Secrets in the gateway's namespace
//     (whose PEM data goes into the snapshot; files are read by the data
//     plane), client CA, SAN checks, versions and cipher suites.
//   - tcproutes.go: VirtualService tls and tcp routes on PASSTHROUGH, TLS
//     and TCP servers, and each TLS or TCP listener's filter chains.
//   - virtualhosts.go: VirtualServices bound to servers, virtual host
//     domains as intersections of server and VirtualService hosts, and the
//     merge of several VirtualServices into one virtual host.
//   - routes.go, matches.go and redirect.go: HTTP routes, their matches
//     and actions (destinations, redirect, direct response).
//   - routepolicy.go with retries.go, faults.go, mirrors.go, rewrite.go,
//     headers.go and cors.go: what a route does around its action, with
//     Istio's defaults (its built-in retry policy, no timeout, 0% faults
//     without a percentage, 100% mirrors) and validation.
//   - delegate.go: delegate VirtualServices merged into the root routes
//     that name them.
//   - clusters.go, loadbalancer.go and connectionpool.go: one cluster per
//     referenced (service, port, subset) with its load balancer, protocol,
//     connection pool limits and endpoints.
//   - hosts.go: host names: short-name expansion, wildcards, intersection.
//   - topology.go, trafficdistribution.go, locality.go, distribute.go:
//     locality-aware load balancing. Where the gateway and each endpoint
//     stand, each service's traffic distribution, the effective locality
//     setting (DestinationRule, then traffic distribution, then the mesh
//     default) and the priority and locality weight of every endpoint as
//     seen from this gateway.
//   - outlier.go and spillover.go: outlier detection with Istio's
//     defaults, the panic threshold, and meshgate's load-based spillover
//     annotation.
//
// Naming: listeners are "<bind>_<bound port>" ("0.0.0.0_8080"), clusters
// "outbound|<port>|<subset>|<host>" as in Istio, routes are named by the
// HTTPRoute's name or "<namespace>/<virtualservice>/<index>", and a route
// becomes one snapshot route per match, as Envoy routes are built from
// Istio's. Virtual hosts are named by their domains joined with ",".
//
// Diagnostic codes are the Code* constants (MG1xxx); they are stable.
package translate
