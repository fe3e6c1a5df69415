package translate

// Diagnostic codes about where endpoints come from and how the gateway
// reaches them (MG19xx). Like the others, they are stable.
const (
	// CodeEndpointSlice: an EndpointSlice the gateway cannot use (an FQDN
	// address type, which Istio ignores too).
	CodeEndpointSlice = "MG1901"
	// CodeUpstreamMode: a meshgate.io/upstream annotation value that is
	// neither "service" nor "endpoints".
	CodeUpstreamMode = "MG1902"
	// CodeUpstreamAddress: the service has no cluster IP or address, so
	// the gateway dials its name (meshgate.io/upstream: service).
	CodeUpstreamAddress = "MG1903"
	// CodeUpstreamPolicy: endpoint-level policies (subsets, locality,
	// outlier detection, spillover) do not apply to a service address
	// (meshgate.io/upstream: service).
	CodeUpstreamPolicy = "MG1904"
)
