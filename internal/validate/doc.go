// Package validate checks a decoded Bundle the way Istio does before it
// accepts configuration, and warns about the mistakes Istio accepts but
// that leave a gateway doing nothing or something else than intended.
//
// Decoding (package resource) already rejects what the CRD schema's types
// rule out: unknown fields, wrong types, bad enum names. Two layers sit on
// top of it here:
//
//   - Webhook checks, one object at a time (gateway.go, virtualservice.go,
//     destinationrule.go, serviceentry.go): the rules of Istio's
//     validating webhook and the CRD schema constraints that types cannot
//     express (required fields, ranges, CEL rules such as "hostname cannot
//     be wildcard"). Their findings are errors: Istio would refuse the
//     object.
//   - Analysis, across objects (analyze*.go): the traps istioctl analyze
//     reports, such as a VirtualService bound to no gateway, a host no
//     Gateway server serves, a subset no DestinationRule defines, two
//     Gateways claiming the same host on a port, failover without outlier
//     detection, a split that starves a destination. Their findings are
//     warnings: the configuration still goes live.
//
// Like translate, the package is pure: no I/O, no clocks, deterministic
// output. Every finding carries a stable code (codes.go), the object, the
// field path, the file and line, and a hint. Where translate already
// reports a condition for this gateway (a subset it routes to that does
// not exist), the analysis uses translate's code, and Run drops findings
// that an earlier stage already made for the same object and field, so a
// condition is never reported twice.
package validate
