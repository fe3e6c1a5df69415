package translate

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
)

// Secret data keys Istio reads gateway credentials from. The generic keys
// are tried first, then the kubernetes.io/tls ones, as Istio does.
const (
	secretGenericCert   = "cert"
	secretGenericKey    = "key"
	secretGenericCACert = "cacert"
	secretTLSCert       = "tls.crt"
	secretTLSKey        = "tls.key"
	secretTLSCACert     = "ca.crt"
)

// secret returns the Secret a credentialName names. As for Istio gateway
// credentials, it is looked up in the gateway's own namespace.
func (b *builder) secret(name string) *resource.Secret {
	for _, s := range b.in.Secrets {
		if s.Name == name && s.Namespace == b.id.Namespace {
			return s
		}
	}
	return nil
}

// missingSecret reports a credentialName without its Secret.
func (b *builder) missingSecret(srv *gwServer, field, name, what string) {
	problem, hint := b.missingSecretMessage(name, what)
	b.credentialProblem(srv, field, problem, hint)
}

// missingSecretMessage says that the Secret name for what does not exist,
// with a hint pointing at a Secret of that name in another namespace if
// there is one.
func (b *builder) missingSecretMessage(name, what string) (problem, hint string) {
	hint = fmt.Sprintf("gateway credentials are read from the gateway's namespace %s, as in Istio", b.id.Namespace)
	for _, s := range b.in.Secrets {
		if s.Name == name {
			hint = fmt.Sprintf("a Secret %s exists in namespace %s, but credentials are read from the gateway's namespace %s",
				name, s.Namespace, b.id.Namespace)
			break
		}
	}
	return fmt.Sprintf("Secret %s/%s for the %s does not exist", b.id.Namespace, name, what), hint
}

// credentialProblem reports a credential that cannot be used and marks
// the server unavailable: it keeps its port and hosts, as Istio merges
// servers without looking at Secrets, but refuses their connections.
func (b *builder) credentialProblem(srv *gwServer, field, problem, hint string) {
	b.report(srv.meta, diag.Error, CodeCredential, field, problem+"; connections for the server's hosts are refused", hint)
	if srv.unavailable == "" {
		srv.unavailable = problem
	}
}

// secretCertificate reads a certificate and key from the Secret name. The
// PEM data is checked here, so a bad Secret is reported with its server;
// the data plane parses it again when the snapshot is applied.
func (b *builder) secretCertificate(srv *gwServer, field, name string) (snapshot.CertificateSource, bool) {
	s := b.secret(name)
	if s == nil {
		b.missingSecret(srv, field, name, "server certificate")
		return snapshot.CertificateSource{}, false
	}
	src, problem := secretKeyPair(s)
	if problem != "" {
		b.credentialProblem(srv, field, problem, "")
		return snapshot.CertificateSource{}, false
	}
	return src, true
}

// secretKeyPair reads the certificate and key of a Secret (cert and key,
// else tls.crt and tls.key, as Istio does), or says why it cannot.
func secretKeyPair(s *resource.Secret) (snapshot.CertificateSource, string) {
	cert, key := s.Data[secretGenericCert], s.Data[secretGenericKey]
	if len(cert) == 0 || len(key) == 0 {
		cert, key = s.Data[secretTLSCert], s.Data[secretTLSKey]
	}
	if len(cert) == 0 || len(key) == 0 {
		return snapshot.CertificateSource{},
			fmt.Sprintf("Secret %s/%s has neither cert and key nor tls.crt and tls.key (it has %s)", s.Namespace, s.Name, dataKeys(s))
	}
	if _, err := tls.X509KeyPair(cert, key); err != nil {
		return snapshot.CertificateSource{},
			fmt.Sprintf("Secret %s/%s does not hold a usable certificate and key: %v", s.Namespace, s.Name, err)
	}
	return snapshot.CertificateSource{
		Secret:         s.Namespace + "/" + s.Name,
		CertificatePEM: cert,
		KeyPEM:         key,
		SHA256:         sha256Hex(cert),
	}, ""
}

// secretCA reads CA certificates from the Secret first, or else from the
// Secret fallback (the credential itself when first is
// "<credential>-cacert"), as Istio does.
func (b *builder) secretCA(srv *gwServer, field, first, fallback string) *snapshot.CASource {
	s, tried := b.secretOr(first, fallback)
	if s == nil {
		b.missingSecret(srv, field, tried, "client CA certificates")
		return nil
	}
	ca, problem := secretCAData(s, "client certificates")
	if problem != "" {
		b.credentialProblem(srv, field, problem, fmt.Sprintf("add ca.crt to it, or create a Secret %s-cacert", fallback))
		return nil
	}
	return ca
}

// secretOr returns the Secret first, else the Secret fallback, and the
// names tried, for messages.
func (b *builder) secretOr(first, fallback string) (*resource.Secret, string) {
	tried := []string{first}
	s := b.secret(first)
	if s == nil && fallback != first {
		tried = append(tried, fallback)
		s = b.secret(fallback)
	}
	return s, strings.Join(tried, " or ")
}

// secretCAData reads the CA certificates of a Secret (cacert, else ca.crt),
// or says why it cannot; what is what they verify, for the message.
func secretCAData(s *resource.Secret, what string) (*snapshot.CASource, string) {
	ca := s.Data[secretGenericCACert]
	if len(ca) == 0 {
		ca = s.Data[secretTLSCACert]
	}
	if len(ca) == 0 {
		return nil, fmt.Sprintf("Secret %s/%s has no cacert or ca.crt to verify %s with (it has %s)",
			s.Namespace, s.Name, what, dataKeys(s))
	}
	if !x509.NewCertPool().AppendCertsFromPEM(ca) {
		return nil, fmt.Sprintf("the CA data of Secret %s/%s holds no PEM certificate", s.Namespace, s.Name)
	}
	return &snapshot.CASource{Secret: s.Namespace + "/" + s.Name, PEM: ca, SHA256: sha256Hex(ca)}, ""
}

// dataKeys lists a Secret's data keys for messages.
func dataKeys(s *resource.Secret) string {
	if len(s.Data) == 0 {
		return "no data"
	}
	return strings.Join(sortedKeys(s.Data), ", ")
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func isHexSHA256(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == sha256.Size
}

func isBase64SHA256(s string) bool {
	b, err := base64.StdEncoding.DecodeString(s)
	return err == nil && len(b) == sha256.Size
}
