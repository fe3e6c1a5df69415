package translate

import (
	"fmt"
	"path"
	"strings"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
	networkingv1 "istio.io/api/networking/v1"
)

// DefaultWorkloadCertDir is where ISTIO_MUTUAL servers read the gateway's
// mesh certificate: the directory Istio uses for file-mounted workload
// credentials. It holds workloadCertFile, workloadKeyFile and
// workloadRootFile.
const DefaultWorkloadCertDir = "/var/run/secrets/workload-spiffe-credentials"

// The file names of a workload credential, as Istio writes them.
const (
	workloadCertFile = "cert-chain.pem"
	workloadKeyFile  = "key.pem"
	workloadRootFile = "root-cert.pem"
)

// httpALPN is what an HTTPS chain offers in ALPN, preferring HTTP/2 as
// Istio's gateways do.
var httpALPN = []string{"h2", "http/1.1"}

// serverTLS settles how a server uses TLS, from its protocol and its tls
// block, and records it on srv. It reports false, with a diagnostic, when
// the server cannot be served; Istio rejects such servers in validation.
func (b *builder) serverTLS(srv *gwServer) bool {
	field := resource.JoinIndex("spec.servers", srv.index) + ".tls"
	t := srv.spec.Tls
	switch srv.family {
	case familyHTTP:
		srv.http = true
		if t == nil {
			return true
		}
		if terminates(t) {
			b.report(srv.meta, diag.Error, CodeTLSSettings, field,
				fmt.Sprintf("a plain-text %s server cannot have TLS settings, only httpsRedirect; the server is skipped", srv.protocol),
				"use protocol HTTPS to terminate TLS")
			return false
		}
		srv.redirect = t.HttpsRedirect
		return true
	case familyTCP:
		if t == nil {
			return true
		}
		b.report(srv.meta, diag.Error, CodeTLSSettings, field,
			"a TCP server cannot have TLS settings; the server is skipped",
			"use protocol TLS to terminate TLS or pass it through")
		return false
	}

	if t == nil {
		b.report(srv.meta, diag.Error, CodeTLSSettings, field,
			fmt.Sprintf("an %s server needs tls settings; the server is skipped", srv.protocol),
			"add tls: {mode: SIMPLE, credentialName: <secret>}, or tls: {mode: PASSTHROUGH}")
		return false
	}
	ctx := &snapshot.TLSContext{}
	switch t.Mode {
	case networkingv1.ServerTLSSettings_PASSTHROUGH:
		if hasCertificates(t) {
			b.report(srv.meta, diag.Warning, CodeTLSIgnored, field+".mode",
				"the mode is PASSTHROUGH (the default when mode is not set), so the certificate settings are not used and TLS goes through to the backends untouched",
				"set mode: SIMPLE to terminate TLS at the gateway")
		}
		srv.passthrough = true
		return true
	case networkingv1.ServerTLSSettings_AUTO_PASSTHROUGH:
		b.report(srv.meta, diag.Error, CodeTLSUnsupported, field+".mode",
			"AUTO_PASSTHROUGH routes by an SNI naming a mesh cluster (outbound_.<port>_.<subset>_.<host>), which only an east-west gateway of a mesh serves; the server is skipped",
			"use PASSTHROUGH with tls routes in a VirtualService")
		return false
	case networkingv1.ServerTLSSettings_SIMPLE:
		ctx.Mode = snapshot.TLSSimple
	case networkingv1.ServerTLSSettings_MUTUAL:
		ctx.Mode = snapshot.TLSMutual
	case networkingv1.ServerTLSSettings_OPTIONAL_MUTUAL:
		ctx.Mode = snapshot.TLSOptionalMutual
	case networkingv1.ServerTLSSettings_ISTIO_MUTUAL:
		ctx.Mode = snapshot.TLSIstioMutual
	default:
		b.report(srv.meta, diag.Error, CodeTLSSettings, field+".mode",
			fmt.Sprintf("unknown TLS mode %d; the server is skipped", t.Mode), "")
		return false
	}

	if ctx.Mode == snapshot.TLSIstioMutual {
		if hasCertificates(t) || t.CaCertificates != "" || t.CaCertCredentialName != "" {
			b.report(srv.meta, diag.Warning, CodeTLSIgnored, field,
				"ISTIO_MUTUAL uses the gateway's mesh certificate, so the certificate settings are ignored", "")
		}
		dir := b.id.WorkloadCertDir
		ctx.Certificates = []snapshot.CertificateSource{{
			CertificateFile: path.Join(dir, workloadCertFile),
			KeyFile:         path.Join(dir, workloadKeyFile),
		}}
		ctx.ClientCA = &snapshot.CASource{File: path.Join(dir, workloadRootFile)}
	} else {
		if !b.serverCertificates(srv, field, t, ctx) {
			return false
		}
		if ctx.Mode != snapshot.TLSSimple && !b.clientCA(srv, field, t, ctx) {
			return false
		}
	}

	if len(t.SubjectAltNames) > 0 {
		if ctx.Mode == snapshot.TLSSimple {
			b.report(srv.meta, diag.Warning, CodeTLSIgnored, field+".subjectAltNames",
				"subjectAltNames check client certificates, which SIMPLE does not ask for; they are ignored",
				"use mode MUTUAL")
		} else {
			ctx.SubjectAltNames = append([]string(nil), t.SubjectAltNames...)
		}
	}
	b.certificatePins(srv, field, t, ctx)
	if t.CaCrl != "" {
		b.report(srv.meta, diag.Warning, CodeTLSUnsupported, field+".caCrl",
			"certificate revocation lists are not supported yet; revoked client certificates are accepted", "")
	}
	if t.GetInsecureSkipVerify().GetValue() {
		b.report(srv.meta, diag.Warning, CodeTLSUnsupported, field+".insecureSkipVerify",
			"insecureSkipVerify is not supported on gateway servers; client certificates are verified", "")
	}
	if !b.protocolVersions(srv, field, t, ctx) {
		return false
	}
	ctx.CipherSuites = b.cipherSuites(srv, field+".cipherSuites", t.CipherSuites)
	if srv.protocol == snapshot.ProtocolHTTPS {
		srv.http = true
		ctx.ALPN = append([]string(nil), httpALPN...)
	}
	srv.tls = ctx
	return true
}

// terminates reports whether a tls block asks for more than
// httpsRedirect: a mode other than the default or a certificate.
func terminates(t *networkingv1.ServerTLSSettings) bool {
	return t.Mode != networkingv1.ServerTLSSettings_PASSTHROUGH || hasCertificates(t) || t.CaCertificates != ""
}

// hasCertificates reports whether any server certificate source is set.
func hasCertificates(t *networkingv1.ServerTLSSettings) bool {
	return t.ServerCertificate != "" || t.PrivateKey != "" || t.CredentialName != "" ||
		len(t.CredentialNames) > 0 || len(t.TlsCertificates) > 0
}

// serverCertificates fills ctx.Certificates from exactly one of the
// certificate sources Istio allows: files, credentialName,
// credentialNames or tlsCertificates. It reports false when the settings
// are invalid; a Secret that is missing or unusable only marks the server
// unavailable (credentials.go).
func (b *builder) serverCertificates(srv *gwServer, field string, t *networkingv1.ServerTLSSettings, ctx *snapshot.TLSContext) bool {
	var sources []string
	if t.ServerCertificate != "" || t.PrivateKey != "" {
		sources = append(sources, "serverCertificate/privateKey")
	}
	if t.CredentialName != "" {
		sources = append(sources, "credentialName")
	}
	if len(t.CredentialNames) > 0 {
		sources = append(sources, "credentialNames")
	}
	if len(t.TlsCertificates) > 0 {
		sources = append(sources, "tlsCertificates")
	}
	switch {
	case len(sources) == 0:
		b.report(srv.meta, diag.Error, CodeTLSSettings, field,
			fmt.Sprintf("mode %s needs a server certificate; the server is skipped", ctx.Mode),
			"set credentialName to a Secret in the gateway's namespace, or serverCertificate and privateKey to files")
		return false
	case len(sources) > 1:
		b.report(srv.meta, diag.Error, CodeTLSSettings, field,
			fmt.Sprintf("only one of %s can be set; the server is skipped", strings.Join(sources, ", ")), "")
		return false
	case len(t.CredentialNames) > 2 || len(t.TlsCertificates) > 2:
		b.report(srv.meta, diag.Error, CodeTLSSettings, field,
			"at most two certificates (one RSA, one ECDSA) can be given; the server is skipped", "")
		return false
	}

	switch {
	case t.CredentialName != "":
		if c, ok := b.secretCertificate(srv, field+".credentialName", t.CredentialName); ok {
			ctx.Certificates = append(ctx.Certificates, c)
		}
	case len(t.CredentialNames) > 0:
		for i, name := range t.CredentialNames {
			if c, ok := b.secretCertificate(srv, resource.JoinIndex(field+".credentialNames", i), name); ok {
				ctx.Certificates = append(ctx.Certificates, c)
			}
		}
	case len(t.TlsCertificates) > 0:
		for i, tc := range t.TlsCertificates {
			if tc.GetServerCertificate() == "" || tc.GetPrivateKey() == "" {
				b.report(srv.meta, diag.Error, CodeTLSSettings, resource.JoinIndex(field+".tlsCertificates", i),
					"a certificate needs both serverCertificate and privateKey; the server is skipped", "")
				return false
			}
			ctx.Certificates = append(ctx.Certificates, snapshot.CertificateSource{
				CertificateFile: tc.ServerCertificate, KeyFile: tc.PrivateKey,
			})
		}
	default:
		if t.ServerCertificate == "" || t.PrivateKey == "" {
			b.report(srv.meta, diag.Error, CodeTLSSettings, field,
				"serverCertificate and privateKey must be set together; the server is skipped", "")
			return false
		}
		ctx.Certificates = []snapshot.CertificateSource{{CertificateFile: t.ServerCertificate, KeyFile: t.PrivateKey}}
	}
	return true
}

// clientCA fills ctx.ClientCA for the modes that verify client
// certificates, looking where Istio does: caCertCredentialName, else
// caCertificates, else the Secret "<credentialName>-cacert", else the
// credentialName Secret itself. As for certificates, only invalid
// settings report false.
func (b *builder) clientCA(srv *gwServer, field string, t *networkingv1.ServerTLSSettings, ctx *snapshot.TLSContext) bool {
	credential := t.CredentialName
	if credential == "" && len(t.CredentialNames) > 0 {
		credential = t.CredentialNames[0]
	}
	switch {
	case t.CaCertCredentialName != "":
		ctx.ClientCA = b.secretCA(srv, field+".caCertCredentialName", t.CaCertCredentialName, t.CaCertCredentialName)
		return true
	case t.CaCertificates != "":
		if credential != "" {
			b.report(srv.meta, diag.Error, CodeTLSSettings, field+".caCertificates",
				"caCertificates cannot be combined with credentialName; the server is skipped",
				"put the CA in the Secret (ca.crt or cacert), in a Secret named <credentialName>-cacert, or name it with caCertCredentialName")
			return false
		}
		ctx.ClientCA = &snapshot.CASource{File: t.CaCertificates}
		return true
	case credential != "":
		ctx.ClientCA = b.secretCA(srv, field+".credentialName", credential+"-cacert", credential)
		return true
	}
	b.report(srv.meta, diag.Error, CodeTLSSettings, field,
		fmt.Sprintf("mode %s verifies client certificates and needs CA certificates; the server is skipped", ctx.Mode),
		"set caCertificates to a file, or put ca.crt in the credentialName Secret")
	return false
}

// certificatePins copies verifyCertificateHash and verifyCertificateSpki,
// normalised, dropping malformed entries with a warning.
func (b *builder) certificatePins(srv *gwServer, field string, t *networkingv1.ServerTLSSettings, ctx *snapshot.TLSContext) {
	for i, h := range t.VerifyCertificateHash {
		norm := strings.ToLower(strings.ReplaceAll(h, ":", ""))
		if !isHexSHA256(norm) {
			b.report(srv.meta, diag.Warning, CodeTLSSettings, resource.JoinIndex(field+".verifyCertificateHash", i),
				fmt.Sprintf("%q is not a hex SHA-256 hash; it is ignored", h), "")
			continue
		}
		ctx.VerifyCertificateHash = append(ctx.VerifyCertificateHash, norm)
	}
	for i, s := range t.VerifyCertificateSpki {
		if !isBase64SHA256(s) {
			b.report(srv.meta, diag.Warning, CodeTLSSettings, resource.JoinIndex(field+".verifyCertificateSpki", i),
				fmt.Sprintf("%q is not a base64 SHA-256 hash; it is ignored", s), "")
			continue
		}
		ctx.VerifyCertificateSPKI = append(ctx.VerifyCertificateSPKI, s)
	}
	if len(ctx.VerifyCertificateHash)+len(ctx.VerifyCertificateSPKI) > 0 && ctx.Mode == snapshot.TLSSimple {
		b.report(srv.meta, diag.Warning, CodeTLSIgnored, field,
			"certificate pins check client certificates, which SIMPLE does not ask for; they are ignored", "use mode MUTUAL")
		ctx.VerifyCertificateHash, ctx.VerifyCertificateSPKI = nil, nil
	}
}

// tlsVersions maps Istio's protocol versions; TLS_AUTO is absent.
var tlsVersions = map[networkingv1.ServerTLSSettings_TLSProtocol]snapshot.TLSVersion{
	networkingv1.ServerTLSSettings_TLSV1_0: snapshot.TLS10,
	networkingv1.ServerTLSSettings_TLSV1_1: snapshot.TLS11,
	networkingv1.ServerTLSSettings_TLSV1_2: snapshot.TLS12,
	networkingv1.ServerTLSSettings_TLSV1_3: snapshot.TLS13,
}

// protocolVersions sets the version range: minimum TLSv1.2 unless set
// (Istio's gateway default), maximum the highest supported unless set.
func (b *builder) protocolVersions(srv *gwServer, field string, t *networkingv1.ServerTLSSettings, ctx *snapshot.TLSContext) bool {
	ctx.MinVersion = snapshot.TLS12
	if v, ok := tlsVersions[t.MinProtocolVersion]; ok {
		ctx.MinVersion = v
	}
	if v, ok := tlsVersions[t.MaxProtocolVersion]; ok {
		ctx.MaxVersion = v
	}
	if ctx.MaxVersion != "" && ctx.MaxVersion < ctx.MinVersion {
		b.report(srv.meta, diag.Error, CodeTLSSettings, field+".maxProtocolVersion",
			fmt.Sprintf("maxProtocolVersion %s is below the minimum %s; the server is skipped", ctx.MaxVersion, ctx.MinVersion),
			"minProtocolVersion defaults to TLSV1_2")
		return false
	}
	return true
}
