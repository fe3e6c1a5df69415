package snapshot

// FilterChain says how a TLS or TCP listener handles a connection, as an
// Envoy filter chain does. A TLS listener reads the server name (SNI) of
// the client's ClientHello without terminating TLS and picks the chain
// whose ServerNames match it best: an exact name first, then the longest
// "*." suffix, then "*". A TCP listener has exactly one chain and takes it
// without looking at the bytes.
type FilterChain struct {
	// Server is the Gateway server the chain comes from,
	// "namespace/name/index".
	Server string `json:"server"`
	// ServerNames are the server's hosts without their namespace part,
	// lower-case, sorted; "*.example.com" matches any name below
	// example.com and "*" any name, and also connections without SNI.
	ServerNames []string `json:"serverNames"`
	// TLS, when set, terminates TLS with these settings. When nil the
	// chain proxies the connection's bytes untouched: TLS PASSTHROUGH on a
	// TLS listener, plain TCP on a TCP listener.
	TLS *TLSContext `json:"tls,omitempty"`
	// HTTP is set when the decrypted stream is HTTP (an HTTPS server that
	// terminates TLS). Its requests are routed by the listener's
	// VirtualHosts; Routes is then empty.
	HTTP bool `json:"http,omitempty"`
	// Routes are the L4 routes of a chain that is not HTTP, in order. A
	// connection goes to the route whose SNIHosts match its SNI best (an
	// exact name, then the longest suffix), the first one on a tie; a
	// connection no route takes is closed.
	Routes []*L4Route `json:"routes,omitempty"`
	// Unavailable, when set, says why the chain cannot terminate TLS (its
	// credential Secret is missing or unusable). The chain still claims
	// its server names, so their connections are refused rather than
	// served with another server's certificate.
	Unavailable string `json:"unavailable,omitempty"`
}

// L4Route proxies a whole connection to a weighted choice of clusters: a
// VirtualService tls route (passthrough chains) or tcp route (TCP
// listeners and chains terminating non-HTTP TLS).
type L4Route struct {
	// Name is "<namespace>/<virtualservice>/tls/<index>" or ".../tcp/<index>".
	Name string `json:"name"`
	// VirtualService is "namespace/name" of the object the route came from.
	VirtualService string `json:"virtualService"`
	// SNIHosts, for tls routes, are the SNI names the route takes
	// (lower-case; "*." prefix wildcards); empty takes every connection.
	SNIHosts []string `json:"sniHosts,omitempty"`
	// Destinations are chosen per connection by relative weight.
	Destinations []WeightedCluster `json:"destinations"`
}

// TLSMode is how a chain terminates TLS (Istio's ServerTLSSettings mode;
// PASSTHROUGH chains have no TLSContext).
type TLSMode string

// TLS modes.
const (
	// TLSSimple presents the server certificate and asks for no client
	// certificate.
	TLSSimple TLSMode = "SIMPLE"
	// TLSMutual requires a client certificate signed by ClientCA.
	TLSMutual TLSMode = "MUTUAL"
	// TLSOptionalMutual asks for a client certificate and verifies it
	// when one is sent; clients without one are accepted.
	TLSOptionalMutual TLSMode = "OPTIONAL_MUTUAL"
	// TLSIstioMutual is MUTUAL with the workload's mesh certificate, key
	// and root, read from files.
	TLSIstioMutual TLSMode = "ISTIO_MUTUAL"
)

// TLSVersion is a TLS protocol version.
type TLSVersion string

// TLS versions.
const (
	TLS10 TLSVersion = "TLSv1.0"
	TLS11 TLSVersion = "TLSv1.1"
	TLS12 TLSVersion = "TLSv1.2"
	TLS13 TLSVersion = "TLSv1.3"
)

// TLSContext is what a chain needs to terminate TLS. Certificates and keys
// are named (files) or carried (Secrets) here, but parsed by the data
// plane when the snapshot is applied: translate does no I/O, and a bad
// certificate then only takes down its own chain.
type TLSContext struct {
	Mode TLSMode `json:"mode"`
	// Certificates are the server certificate chains with their keys; one,
	// or two (RSA and ECDSA) from which the handshake picks one the client
	// supports.
	Certificates []CertificateSource `json:"certificates"`
	// ClientCA verifies client certificates; set for MUTUAL,
	// OPTIONAL_MUTUAL and ISTIO_MUTUAL.
	ClientCA *CASource `json:"clientCA,omitempty"`
	// SubjectAltNames, when set, require a client certificate SAN (DNS,
	// URI, IP or email) equal to one of them.
	SubjectAltNames []string `json:"subjectAltNames,omitempty"`
	// VerifyCertificateHash (lower-case hex SHA-256 of the client
	// certificate, no colons) and VerifyCertificateSPKI (base64 SHA-256 of
	// its SubjectPublicKeyInfo) pin client certificates: when either list
	// is set, a client certificate must match an entry of one of them.
	VerifyCertificateHash []string `json:"verifyCertificateHash,omitempty"`
	VerifyCertificateSPKI []string `json:"verifyCertificateSpki,omitempty"`
	// MinVersion defaults to TLSv1.2 (Istio's gateway default).
	MinVersion TLSVersion `json:"minVersion"`
	// MaxVersion is empty for the highest version supported (TLSv1.3).
	MaxVersion TLSVersion `json:"maxVersion,omitempty"`
	// CipherSuites are IANA names (Go's crypto/tls names) of the TLS 1.2
	// and older suites allowed; empty for the defaults. TLS 1.3 suites are
	// not configurable.
	CipherSuites []string `json:"cipherSuites,omitempty"`
	// ALPN lists the application protocols offered, in preference order
	// ("h2", "http/1.1" for HTTP chains).
	ALPN []string `json:"alpn,omitempty"`
}

// CertificateSource is one certificate chain and its private key: either
// two files, read when the snapshot is applied, or PEM data copied from a
// Kubernetes Secret. The PEM data is left out of dumps; SHA256 shows when
// it changed.
type CertificateSource struct {
	CertificateFile string `json:"certificateFile,omitempty"`
	KeyFile         string `json:"keyFile,omitempty"`
	// Secret is "namespace/name" of the Secret the PEM data came from.
	Secret         string `json:"secret,omitempty"`
	CertificatePEM []byte `json:"-"`
	KeyPEM         []byte `json:"-"`
	// SHA256 is the hex SHA-256 of CertificatePEM.
	SHA256 string `json:"sha256,omitempty"`
}

// CASource is a bundle of CA certificates: a file, or PEM data from a
// Secret (see CertificateSource).
type CASource struct {
	File   string `json:"file,omitempty"`
	Secret string `json:"secret,omitempty"`
	PEM    []byte `json:"-"`
	SHA256 string `json:"sha256,omitempty"`
}

// UpstreamTLSMode is how a cluster originates TLS to its endpoints
// (Istio's ClientTLSSettings mode; DISABLE has no UpstreamTLS).
type UpstreamTLSMode string

// Upstream TLS modes.
const (
	// UpstreamSimple verifies the endpoint's certificate and presents none.
	UpstreamSimple UpstreamTLSMode = "SIMPLE"
	// UpstreamMutual also presents the client certificate configured.
	UpstreamMutual UpstreamTLSMode = "MUTUAL"
	// UpstreamIstioMutual presents the gateway's mesh certificate and
	// verifies the endpoint's workload identity against the mesh root.
	UpstreamIstioMutual UpstreamTLSMode = "ISTIO_MUTUAL"
)

// UpstreamTLS is how a cluster speaks TLS to its endpoints: a
// DestinationRule's trafficPolicy.tls with Istio's defaults applied.
// Certificates are read by the data plane, as for TLSContext.
type UpstreamTLS struct {
	Mode UpstreamTLSMode `json:"mode"`
	// ClientCertificate is presented to endpoints (MUTUAL, ISTIO_MUTUAL).
	ClientCertificate *CertificateSource `json:"clientCertificate,omitempty"`
	// CA verifies the endpoints' certificates; nil means the system's
	// roots (Istio verifies at the client by default).
	CA *CASource `json:"ca,omitempty"`
	// CRL, when set, refuses endpoint certificates it revokes.
	CRL *CASource `json:"crl,omitempty"`
	// SNI is the server name sent. Empty with AutoSNI sends the request's
	// host (after rewrites), Envoy's auto_sni, and then verifies the
	// certificate against that name when SubjectAltNames is empty
	// (auto_san_validation). Empty without AutoSNI sends none.
	SNI     string `json:"sni,omitempty"`
	AutoSNI bool   `json:"autoSni,omitempty"`
	// SubjectAltNames, when set, require an endpoint certificate SAN
	// equal to one of them.
	SubjectAltNames []string `json:"subjectAltNames,omitempty"`
	// VerifyIdentity (ISTIO_MUTUAL without subjectAltNames) requires the
	// endpoint certificate's URI SAN to be the endpoint's Identity, or,
	// for an endpoint whose identity is unknown, one of the cluster's
	// Identities.
	VerifyIdentity bool `json:"verifyIdentity,omitempty"`
	// InsecureSkipVerify accepts any endpoint certificate.
	InsecureSkipVerify bool `json:"insecureSkipVerify,omitempty"`
	// Unavailable, when set, says why TLS cannot be originated (a missing
	// credential Secret): connections to the cluster fail with it.
	Unavailable string `json:"unavailable,omitempty"`
}
