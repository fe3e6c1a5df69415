package translate

// Diagnostic codes produced by translate. They are stable: tooling and tests
// match on them rather than on message text. MG10xx are about objects as a
// whole, MG11xx Gateways, MG12xx VirtualService binding, MG13xx HTTP routes,
// MG14xx services and endpoints, MG15xx DestinationRules and cluster policy.
const (
	// CodeNoSpec: an object without a spec; it is skipped.
	CodeNoSpec = "MG1001"

	// CodeGatewayNotSelected: the Gateway's selector does not match this
	// gateway's labels, so it configures some other workload.
	CodeGatewayNotSelected = "MG1101"
	// CodeServerPort: a server without a valid port number.
	CodeServerPort = "MG1102"
	// CodeServerUnsupported: a server bind meshgate does not serve yet
	// (unix sockets).
	CodeServerUnsupported = "MG1103"
	// CodeServerProtocol: a server protocol Istio does not define.
	CodeServerProtocol = "MG1104"
	// CodeServerConflict: a server on a port an earlier server already
	// claimed with an incompatible protocol.
	CodeServerConflict = "MG1105"
	// CodeServerHosts: a server without hosts, or with a malformed host.
	CodeServerHosts = "MG1106"
	// CodeServerBind: a server bind that is not an IP address.
	CodeServerBind = "MG1107"
	// CodeNamedTargetPort: the Service in front of the gateway maps the
	// server port to a named targetPort, which needs the pod spec.
	CodeNamedTargetPort = "MG1108"
	// CodeBindPortConflict: two server ports map to the same socket.
	CodeBindPortConflict = "MG1109"
	// CodeGatewayServicePorts: two Services in front of the gateway map the
	// same port to different targetPorts.
	CodeGatewayServicePorts = "MG1110"

	// CodeMeshOnly: a VirtualService without gateways, which Istio binds to
	// the sidecar mesh only.
	CodeMeshOnly = "MG1201"
	// CodeGatewayNotFound: a VirtualService names a Gateway that does not
	// exist.
	CodeGatewayNotFound = "MG1202"
	// CodeNoHostMatch: none of a VirtualService's hosts matches a host of
	// the servers of a Gateway it is bound to.
	CodeNoHostMatch = "MG1203"
	// CodeShortHost: a VirtualService host without dots, which Istio
	// expands to a cluster-local name.
	CodeShortHost = "MG1204"
	// CodeMatchGateway: a per-match gateway that the VirtualService's
	// top-level gateways do not include.
	CodeMatchGateway = "MG1205"
	// CodeL4Unsupported: no longer reported, since tcp and tls routes are
	// served (see codes_tls.go); kept so the code is never reused.
	CodeL4Unsupported = "MG1206"
	// CodeNoHosts: a VirtualService without hosts.
	CodeNoHosts = "MG1207"

	// CodeBadRegex: a regular expression that does not compile as RE2.
	CodeBadRegex = "MG1301"
	// CodeRouteAction: a route with no action or with more than one of
	// route, redirect, directResponse and delegate.
	CodeRouteAction = "MG1302"
	// CodeDelegate: a delegate route that cannot be followed: the delegate
	// VirtualService is missing, not exported to the root's namespace, not
	// a delegate (it has hosts, gateways, tcp or tls routes), or delegates
	// again (Istio supports one level).
	CodeDelegate = "MG1303"
	// CodeZeroWeights: a weighted split whose weights are all zero.
	CodeZeroWeights = "MG1304"
	// CodeBadWeight: a negative weight.
	CodeBadWeight = "MG1305"
	// CodeNoDestinationHost: a destination without a host.
	CodeNoDestinationHost = "MG1306"
	// CodeUnknownService: a destination host that no Service or
	// ServiceEntry defines.
	CodeUnknownService = "MG1307"
	// CodeUnknownSubset: a destination subset that the applicable
	// DestinationRule does not define.
	CodeUnknownSubset = "MG1308"
	// CodeAmbiguousPort: a destination without a port on a service with
	// several ports.
	CodeAmbiguousPort = "MG1309"
	// CodeUnknownPort: a destination port the service does not expose.
	CodeUnknownPort = "MG1310"
	// CodeRedirect: an invalid redirect.
	CodeRedirect = "MG1311"
	// CodeDirectResponse: an invalid direct response.
	CodeDirectResponse = "MG1312"
	// CodeClaimMatch: a match on JWT claims, which needs request
	// authentication meshgate does not have yet.
	CodeClaimMatch = "MG1313"
	// CodeIgnoredHeader: a header match on a key Istio ignores.
	CodeIgnoredHeader = "MG1314"
	// CodeUnreachableRoute: a route after a catch-all route of the same
	// VirtualService.
	CodeUnreachableRoute = "MG1315"

	// CodeDuplicateHost: a service host defined twice.
	CodeDuplicateHost = "MG1401"
	// CodeEndpointAddress: an endpoint without a usable address.
	CodeEndpointAddress = "MG1402"
	// CodeEndpointPort: an endpoint without the port a service needs.
	CodeEndpointPort = "MG1403"
	// CodeDNSResolution: a DNS ServiceEntry host that cannot be resolved (a
	// wildcard without endpoints, DYNAMIC_DNS).
	CodeDNSResolution = "MG1404"
	// CodeNoEndpoints: a routed-to cluster without endpoints.
	CodeNoEndpoints = "MG1405"
	// CodeServiceEntry: an invalid ServiceEntry, host or port.
	CodeServiceEntry = "MG1406"

	// CodeTrafficPolicyIgnored: a DestinationRule's trafficPolicy that an
	// earlier rule for the same host already set.
	CodeTrafficPolicyIgnored = "MG1501"
	// CodeDuplicateSubset: a subset name an earlier rule already defined.
	CodeDuplicateSubset = "MG1502"
	// CodePassthrough: loadBalancer PASSTHROUGH, which a gateway cannot do.
	CodePassthrough = "MG1503"
	// CodeNoHashKey: a consistentHash without a usable hash key.
	CodeNoHashKey = "MG1504"
	// CodeMaglevTableSize: a Maglev table size that is not a prime below
	// 5000011.
	CodeMaglevTableSize = "MG1505"
	// CodeNoDestinationRuleHost: a DestinationRule without a host.
	CodeNoDestinationRuleHost = "MG1506"
	// CodeEmptySubset: a referenced subset that selects no endpoint.
	CodeEmptySubset = "MG1507"
)
