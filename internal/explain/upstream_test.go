package explain

import (
	"strings"
	"testing"

	"github.com/meshgate/meshgate/internal/snapshot"
)

func TestUpstreamWords(t *testing.T) {
	mesh := &snapshot.UpstreamTLS{
		Mode:              snapshot.UpstreamIstioMutual,
		ClientCertificate: &snapshot.CertificateSource{CertificateFile: "/certs/cert-chain.pem", KeyFile: "/certs/key.pem"},
		CA:                &snapshot.CASource{File: "/certs/root-cert.pem"},
		SNI:               "outbound_.80_._.reviews.default.svc.cluster.local",
		VerifyIdentity:    true,
	}
	tests := []struct {
		name string
		c    snapshot.Cluster
		host string
		want string
	}{
		{"plain", snapshot.Cluster{}, "a.example.com", "HTTP/1.1 in plain text"},
		{"h2c", snapshot.Cluster{UpstreamProtocol: snapshot.UpstreamH2C}, "", "HTTP/2 in plain text (h2c)"},
		{"istio mutual", snapshot.Cluster{UpstreamProtocol: snapshot.UpstreamH2C, TLS: mesh}, "a.example.com",
			"HTTP/2 over TLS (ISTIO_MUTUAL), SNI outbound_.80_._.reviews.default.svc.cluster.local, presents the mesh certificate /certs/cert-chain.pem, trusts /certs/root-cert.pem, requires each endpoint's own identity"},
		{"mutual from a Secret", snapshot.Cluster{TLS: &snapshot.UpstreamTLS{
			Mode: snapshot.UpstreamMutual, SNI: "api.internal", SubjectAltNames: []string{"api.internal"},
			ClientCertificate: &snapshot.CertificateSource{Secret: "istio-system/client"},
			CA:                &snapshot.CASource{Secret: "istio-system/client-cacert"},
		}}, "a.example.com",
			"HTTP/1.1 over TLS (MUTUAL), SNI api.internal, presents the client certificate of Secret istio-system/client, trusts the CA of Secret istio-system/client-cacert, requires a SAN in [api.internal]"},
		{"auto SNI to an address", snapshot.Cluster{TLS: &snapshot.UpstreamTLS{Mode: snapshot.UpstreamSimple, AutoSNI: true}}, "10.0.0.1:8443",
			"HTTP/1.1 over TLS (SIMPLE), no SNI (the request's host is an address), trusts the system roots"},
		{"insecure", snapshot.Cluster{TLS: &snapshot.UpstreamTLS{Mode: snapshot.UpstreamSimple, AutoSNI: true, InsecureSkipVerify: true}}, "a.example.com",
			"HTTP/1.1 over TLS (SIMPLE), SNI a.example.com (the request's host), accepts any certificate (insecureSkipVerify)"},
		{"unavailable", snapshot.Cluster{TLS: &snapshot.UpstreamTLS{Mode: snapshot.UpstreamMutual, Unavailable: "Secret istio-system/x does not exist"}}, "",
			"HTTP/1.1 over TLS (MUTUAL): connections fail: Secret istio-system/x does not exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := upstreamWords(&tc.c, tc.host); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	if got := upstreamWords(&snapshot.Cluster{TLS: &snapshot.UpstreamTLS{Mode: snapshot.UpstreamSimple, CRL: &snapshot.CASource{File: "x"}}}, ""); !strings.HasSuffix(got, "refuses certificates its CRL revokes") {
		t.Errorf("CRL not mentioned: %s", got)
	}
}
