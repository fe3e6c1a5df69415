package validate

// Diagnostic codes of validation. They are stable: tooling, tests and
// docs/diagnostics.md refer to them. MG20xx are the checks of Istio's
// validating webhook and CRD schema (errors), MG21xx the cross-object
// analysis (warnings). Conditions translate already names keep
// translate's code (MG1xxx) so that one condition has one code whichever
// stage finds it.
const (
	// CodeRequired: a field Istio requires is missing ("Required value").
	CodeRequired = "MG2001"
	// CodeRange: a number or percentage outside the range Istio accepts
	// ("Invalid value").
	CodeRange = "MG2002"
	// CodeDuplicate: an entry that must be unique appears twice
	// ("Duplicate value").
	CodeDuplicate = "MG2003"
	// CodeHost: a malformed host, a wildcard where none is allowed, or a
	// Gateway server host whose namespace part is invalid.
	CodeHost = "MG2004"
	// CodeSelector: a workload selector or label set Istio rejects
	// (wildcards, empty keys, invalid label syntax).
	CodeSelector = "MG2005"
	// CodeExclusive: fields that cannot be set together.
	CodeExclusive = "MG2006"
	// CodeResolution: ServiceEntry addresses or endpoints that contradict
	// its resolution.
	CodeResolution = "MG2007"
	// CodeName: an object, subset or port name Istio rejects.
	CodeName = "MG2008"
	// CodeDuration: a duration below Istio's minimum of 1ms.
	CodeDuration = "MG2009"
	// CodeHeader: an invalid header name or header operation.
	CodeHeader = "MG2010"
	// CodeRetryOn: a retryOn policy Envoy does not know.
	CodeRetryOn = "MG2011"
	// CodeExportTo: an invalid exportTo list.
	CodeExportTo = "MG2012"
	// CodeEmpty: a block that must set at least one field and sets none.
	CodeEmpty = "MG2013"
	// CodeAddress: an invalid IP address, CIDR or unix socket path.
	CodeAddress = "MG2014"
	// CodeProtocol: a port protocol Istio does not know.
	CodeProtocol = "MG2015"
	// CodeDeprecated (warning): a deprecated field; it still works.
	CodeDeprecated = "MG2016"
	// CodeClientTLS: DestinationRule TLS settings Istio rejects.
	CodeClientTLS = "MG2017"
	// CodeFaultStatus: a fault abort status outside 200-599.
	CodeFaultStatus = "MG2018"
	// CodeMatch: an invalid match condition (an empty string match, a
	// match on a header name Istio rejects).
	CodeMatch = "MG2019"
	// CodeLocality: a localityLbSetting Istio rejects (failover to the
	// same region, zones in failover, wildcards).
	CodeLocality = "MG2020"
	// CodeNoRoutes: a VirtualService with none of http, tcp and tls.
	CodeNoRoutes = "MG2021"

	// CodeConflictingGateways: two Gateways that can select the same
	// workload claim the same host on the same port; which one wins
	// depends on age (Istio's ConflictingGateways, IST0145).
	CodeConflictingGateways = "MG2101"
	// CodeDuplicateCertificate: several Gateway servers use the same
	// certificate for different hosts; HTTP/2 connection reuse then sends
	// requests for one host to another's server and they get 404 (Istio's
	// GatewayDuplicateCertificate, IST0156).
	CodeDuplicateCertificate = "MG2102"
	// CodeStarvedDestination: a destination with weight 0 in a split that
	// sends traffic elsewhere; it never receives a request.
	CodeStarvedDestination = "MG2103"
	// CodeUnknownDestinationRuleHost: a DestinationRule whose host no
	// Service or ServiceEntry defines, so it applies to nothing (Istio's
	// UnknownDestinationRuleHost, IST0168).
	CodeUnknownDestinationRuleHost = "MG2105"
	// CodeConflictingProtocol: ServiceEntries give one host and port two
	// protocols (Istio's ConflictingServiceEntryProtocol).
	CodeConflictingProtocol = "MG2106"
	// CodeNoServerCertVerification: client TLS without a CA, so the
	// upstream certificate is not verified (Istio's
	// NoServerCertificateVerificationDestinationLevel, IST0128).
	CodeNoServerCertVerification = "MG2109"
	// CodeMeshGatewayHosts: VirtualServices bound to the mesh claim the
	// same host, so only one of them applies to sidecars (Istio's
	// ConflictingMeshGatewayVirtualServiceHosts, IST0109).
	CodeMeshGatewayHosts = "MG2110"
	// CodeIngressRouteRules: a gateway routes to a host without a subset
	// while a VirtualService bound to the mesh routes that host by subset;
	// the mesh rules do not apply to what the gateway forwards (Istio's
	// IngressRouteRulesNotAffected, IST0165).
	CodeIngressRouteRules = "MG2111"
)
