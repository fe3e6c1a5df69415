package gatewayapi

// Diagnostic codes of the Gateway API conversion, MG22xx.
const (
	// CodeListener: a listener that cannot be served (UDP, TLS in
	// Terminate mode, a certificate it cannot use).
	CodeListener = "MG2201"
	// CodeParentRef: a route's parentRef that attaches to no listener: the
	// Gateway is missing or of another class, no listener has the
	// sectionName or port, the listener does not allow the route's
	// namespace or kind, or no hostname intersects.
	CodeParentRef = "MG2202"
	// CodeBackendRef: a backendRef that cannot be used: a kind other than
	// Service or Hostname, no port, or another namespace without a
	// ReferenceGrant allowing it. Its share of requests fails.
	CodeBackendRef = "MG2203"
	// CodeUnsupported: a filter or field meshgate does not convert; a rule
	// with an unsupported filter answers 500, as the Gateway API requires.
	CodeUnsupported = "MG2204"
)
