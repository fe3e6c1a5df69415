package translate

import (
	"fmt"
	"path"
	"strconv"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
	networkingv1 "istio.io/api/networking/v1"
)

// upstreamTLS settles how cluster c originates TLS to its endpoints from
// the tls component of its DestinationRule policy, with Istio's defaults:
//
//   - SIMPLE and MUTUAL verify the endpoint's certificate against
//     caCertificates (or the credential Secret's CA), else the system's
//     roots, as Istio does since it verifies at the client by default.
//     Without sni the request's host is sent and, without
//     subjectAltNames, checked against the certificate (Envoy's auto_sni
//     and auto_san_validation, which Istio enables).
//   - ISTIO_MUTUAL presents the gateway's mesh certificate, trusts the
//     mesh root, sends Istio's SNI "outbound_.<port>_.<subset>_.<host>",
//     and, without subjectAltNames, requires each endpoint to present its
//     own workload identity.
//
// A credentialName whose Secret cannot be used leaves the cluster
// Unavailable: its connections fail, and only its requests get 503.
func (b *builder) upstreamTLS(c *snapshot.Cluster, policy effectivePolicy) *snapshot.UpstreamTLS {
	t := policy.tls
	if t == nil || t.Mode == networkingv1.ClientTLSSettings_DISABLE {
		return nil
	}
	dr, field := &policy.tlsFrom.dr.Meta, policy.tlsFrom.field
	out := &snapshot.UpstreamTLS{
		SubjectAltNames: append([]string(nil), t.SubjectAltNames...),
	}
	if t.Mode == networkingv1.ClientTLSSettings_ISTIO_MUTUAL {
		out.Mode = snapshot.UpstreamIstioMutual
		if t.ClientCertificate != "" || t.PrivateKey != "" || t.CaCertificates != "" || t.CredentialName != "" {
			b.report(dr, diag.Warning, CodeTLSIgnored, field,
				"ISTIO_MUTUAL uses the gateway's mesh certificate and root, so the certificate settings are ignored", "")
		}
		dir := b.id.WorkloadCertDir
		out.ClientCertificate = &snapshot.CertificateSource{
			CertificateFile: path.Join(dir, workloadCertFile),
			KeyFile:         path.Join(dir, workloadKeyFile),
		}
		out.CA = &snapshot.CASource{File: path.Join(dir, workloadRootFile)}
		out.SNI = t.Sni
		if out.SNI == "" {
			out.SNI = istioMutualSNI(c)
		}
		out.VerifyIdentity = len(out.SubjectAltNames) == 0
		out.InsecureSkipVerify = t.GetInsecureSkipVerify().GetValue()
		return out
	}

	out.Mode = snapshot.UpstreamSimple
	if t.Mode == networkingv1.ClientTLSSettings_MUTUAL {
		out.Mode = snapshot.UpstreamMutual
	}
	out.SNI = t.Sni
	out.AutoSNI = t.Sni == ""
	out.InsecureSkipVerify = t.GetInsecureSkipVerify().GetValue()
	if t.CaCrl != "" {
		out.CRL = &snapshot.CASource{File: t.CaCrl}
	}
	if t.CredentialName != "" {
		b.upstreamCredential(dr, field, t.CredentialName, out)
		return out
	}
	if out.Mode == snapshot.UpstreamMutual {
		if t.ClientCertificate == "" || t.PrivateKey == "" {
			// Istio's validation rejects this; a rule that reached us
			// from files anyway fails its connections, not the gateway.
			out.Unavailable = "MUTUAL needs clientCertificate and privateKey, or credentialName"
			b.report(dr, diag.Error, CodeTLSSettings, field,
				out.Unavailable+"; connections to the destination fail", "")
		} else {
			out.ClientCertificate = &snapshot.CertificateSource{CertificateFile: t.ClientCertificate, KeyFile: t.PrivateKey}
		}
	} else if t.ClientCertificate != "" || t.PrivateKey != "" {
		b.report(dr, diag.Warning, CodeTLSIgnored, field+".clientCertificate",
			"SIMPLE presents no client certificate; clientCertificate and privateKey are ignored", "use mode MUTUAL")
	}
	if t.CaCertificates != "" {
		out.CA = &snapshot.CASource{File: t.CaCertificates}
	}
	return out
}

// upstreamCredential reads a DestinationRule credentialName: the client
// certificate and key (MUTUAL) and the CA certificates (from the Secret,
// else "<name>-cacert"; else the system roots) from Secrets in the
// gateway's namespace, where Istio reads a gateway's credentials.
func (b *builder) upstreamCredential(dr *resource.Meta, field, name string, out *snapshot.UpstreamTLS) {
	field += ".credentialName"
	fail := func(problem, hint string) {
		out.Unavailable = problem
		b.report(dr, diag.Error, CodeCredential, field, problem+"; connections to the destination fail", hint)
	}
	s := b.secret(name)
	if out.Mode == snapshot.UpstreamMutual {
		if s == nil {
			fail(b.missingSecretMessage(name, "client certificate"))
			return
		}
		src, problem := secretKeyPair(s)
		if problem != "" {
			fail(problem, "")
			return
		}
		out.ClientCertificate = &src
	}
	caSecret, tried := b.secretOr(name+"-cacert", name)
	if caSecret == nil {
		if out.Mode == snapshot.UpstreamSimple {
			fail(b.missingSecretMessage(tried, "CA certificates"))
		}
		return
	}
	ca, problem := secretCAData(caSecret, "the destination's certificate")
	switch {
	case problem == "":
		out.CA = ca
	case out.Mode == snapshot.UpstreamSimple:
		// SIMPLE reads nothing but the CA from its credential.
		fail(problem, fmt.Sprintf("add ca.crt to it, or create a Secret %s-cacert", name))
	}
}

// istioMutualSNI is the SNI Istio sends under ISTIO_MUTUAL, which names
// the cluster: "outbound_.<port>_.<subset>_.<host>".
func istioMutualSNI(c *snapshot.Cluster) string {
	return "outbound_." + strconv.FormatUint(uint64(c.Port), 10) + "_." + c.Subset + "_." + c.Service
}
