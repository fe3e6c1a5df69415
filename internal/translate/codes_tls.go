package translate

// Diagnostic codes about TLS servers and L4 routes (MG17xx). Like the
// others, they are stable.
const (
	// CodeTLSSettings: a server whose tls block does not fit its protocol
	// or mode (HTTPS without tls, TLS settings on a plain-text port, a
	// terminating mode without a certificate or CA, versions out of order).
	CodeTLSSettings = "MG1701"
	// CodeTLSDuplicateHost: a TLS server naming a host that an earlier
	// server on the same port already serves.
	CodeTLSDuplicateHost = "MG1702"
	// CodeCredential: a credentialName whose Secret is missing or lacks the
	// keys a certificate or CA is read from.
	CodeCredential = "MG1703"
	// CodeTLSUnsupported: a TLS setting meshgate does not implement
	// (AUTO_PASSTHROUGH, caCrl, insecureSkipVerify, ...).
	CodeTLSUnsupported = "MG1704"
	// CodeCipherSuite: a cipher suite name that cannot be used.
	CodeCipherSuite = "MG1705"
	// CodeDuplicatePortName: two HTTPS servers of one Gateway on one port
	// with the same port name, which Istio needs to be unique.
	CodeDuplicatePortName = "MG1706"
	// CodeL4Route: a tls or tcp route that cannot be served.
	CodeL4Route = "MG1707"
	// CodeNoL4Route: a PASSTHROUGH, TLS or TCP server that no tls or tcp
	// route serves, so its connections are closed.
	CodeNoL4Route = "MG1708"
	// CodeTLSIgnored: a TLS setting that has no effect where it is written
	// (certificates on a PASSTHROUGH server, subjectAltNames under SIMPLE).
	CodeTLSIgnored = "MG1709"
)
