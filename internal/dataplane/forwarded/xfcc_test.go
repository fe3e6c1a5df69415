package forwarded

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/internal/testpki"
)

// TestXFCCModes runs every forwardClientCertDetails value on a mutual TLS
// connection, a TLS connection without a client certificate, and plain
// text, with and without an XFCC header from the client. Envoy's rules
// (HttpConnectionManager.forward_client_cert_details):
//
//	SANITIZE             Do not send the XFCC header to the next hop.
//	FORWARD_ONLY         When the client connection is mTLS, forward the
//	                     XFCC header in the request.
//	APPEND_FORWARD       When the client connection is mTLS, append the
//	                     client certificate information to the request's
//	                     XFCC header and forward it.
//	SANITIZE_SET         When the client connection is mTLS, reset the XFCC
//	                     header with the client certificate information and
//	                     send it to the next hop.
//	ALWAYS_FORWARD_ONLY  Always forward the XFCC header in the request,
//	                     regardless of whether the client connection is mTLS.
//
// and when the connection is not mTLS every mode but ALWAYS_FORWARD_ONLY
// removes the header. UNDEFINED is Istio's gateway default, SANITIZE_SET.
func TestXFCCModes(t *testing.T) {
	ca := testpki.NewCA(t, "clients")
	client := ca.Client(t, "spiffe://cluster.local/ns/default/sa/client", "client.example.com")
	mtls := &tls.ConnectionState{PeerCertificates: []*x509.Certificate{client.Cert}}
	oneWay := &tls.ConnectionState{}
	const prior = `By=spiffe://lb;Hash=abc;URI=spiffe://upstream-client`

	type outcome int
	const (
		removed outcome = iota
		unchanged
		appended
		set
	)
	conns := []struct {
		name string
		cs   *tls.ConnectionState
	}{{"mtls", mtls}, {"tls", oneWay}, {"plain", nil}}
	for _, tc := range []struct {
		mode ClientCertMode
		// want per connection kind: mtls, tls, plain.
		want [3]outcome
	}{
		{Sanitize, [3]outcome{removed, removed, removed}},
		{ForwardOnly, [3]outcome{unchanged, removed, removed}},
		{AppendForward, [3]outcome{appended, removed, removed}},
		{SanitizeSet, [3]outcome{set, removed, removed}},
		{AlwaysForwardOnly, [3]outcome{unchanged, unchanged, unchanged}},
		{ClientCertUndefined, [3]outcome{set, removed, removed}},
	} {
		for i, conn := range conns {
			for _, withPrior := range []bool{false, true} {
				name := tc.mode.String() + "/" + conn.name
				if withPrior {
					name += "/client-sent-xfcc"
				}
				t.Run(name, func(t *testing.T) {
					h := http.Header{}
					if withPrior {
						h.Set(XFCCHeader, prior)
					}
					clientCert(h, &Settings{ClientCert: tc.mode}, conn.cs, []string{"spiffe://cluster.local/ns/istio-system/sa/gateway"})
					got, present := h.Get(XFCCHeader), len(h.Values(XFCCHeader)) > 0
					element := xfccElement([]*x509.Certificate{client.Cert}, []string{"spiffe://cluster.local/ns/istio-system/sa/gateway"}, gatewayCertDetails)
					switch tc.want[i] {
					case removed:
						if present {
							t.Errorf("XFCC = %q, want none", got)
						}
					case unchanged:
						if withPrior && got != prior || !withPrior && present {
							t.Errorf("XFCC = %q, want it as the client sent it", got)
						}
					case appended:
						want := element
						if withPrior {
							want = prior + "," + element
						}
						if got != want {
							t.Errorf("XFCC = %q, want %q", got, want)
						}
					case set:
						if got != element {
							t.Errorf("XFCC = %q, want only this hop's element %q", got, element)
						}
					}
				})
			}
		}
	}
}

// TestXFCCElement checks the element's keys against Envoy's format:
// "By The Subject Alternative Name (URI type) of the current proxy's
// certificate. Hash The SHA 256 digest of the current client certificate.
// Cert The entire client certificate in URL encoded PEM format. Subject
// The Subject field of the current client certificate. The value is
// always double-quoted. URI The URI type Subject Alternative Name field of
// the current client certificate. DNS The DNS type Subject Alternative
// Name field of the current client certificate. A client certificate may
// contain multiple DNS type Subject Alternative Names, each will be a
// separate key-value pair."
func TestXFCCElement(t *testing.T) {
	ca := testpki.NewCA(t, "clients")
	client := ca.Client(t, "spiffe://cluster.local/ns/default/sa/client", "a.example.com", "b.example.com")
	el := xfccElement([]*x509.Certificate{client.Cert}, []string{"spiffe://cluster.local/ns/istio-system/sa/gateway"}, gatewayCertDetails)

	pairs := strings.Split(el, ";")
	var keys []string
	values := map[string][]string{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			t.Fatalf("element %q has a pair without '=': %q", el, p)
		}
		keys = append(keys, k)
		values[k] = append(values[k], v)
	}
	if got, want := strings.Join(keys, ","), "By,Hash,Cert,Subject,URI,DNS,DNS"; got != want {
		t.Errorf("keys = %s, want %s (Envoy's order, Istio's set)", got, want)
	}
	sum := sha256.Sum256(client.Cert.Raw)
	if got := values["Hash"][0]; got != hex.EncodeToString(sum[:]) {
		t.Errorf("Hash = %s, want the SHA-256 of the DER", got)
	}
	cert := values["Cert"][0]
	if !strings.HasPrefix(cert, `"-----BEGIN%20CERTIFICATE-----%0A`) || !strings.HasSuffix(cert, `"`) {
		t.Errorf("Cert = %.60s..., want a double-quoted URL-encoded PEM", cert)
	}
	pemText, err := url.PathUnescape(strings.Trim(cert, `"`))
	if err != nil || pemText != string(client.CertPEM) {
		t.Errorf("Cert does not decode to the client's PEM (err %v)", err)
	}
	if got := values["Subject"][0]; got != `"CN=spiffe://cluster.local/ns/default/sa/client"` {
		t.Errorf("Subject = %s", got)
	}
	if got := values["URI"]; len(got) != 1 || got[0] != "spiffe://cluster.local/ns/default/sa/client" {
		t.Errorf("URI = %v", got)
	}
	if got := values["DNS"]; len(got) != 2 || got[0] != "a.example.com" || got[1] != "b.example.com" {
		t.Errorf("DNS = %v, want one pair per SAN", got)
	}
	if got := values["By"]; len(got) != 1 || got[0] != "spiffe://cluster.local/ns/istio-system/sa/gateway" {
		t.Errorf("By = %v", got)
	}

	// "The URI key still exists even if the URI is empty"; no By without
	// a URI SAN on the gateway's certificate.
	plain := ca.Client(t, "plain.example.com")
	el = xfccElement([]*x509.Certificate{plain.Cert}, nil, gatewayCertDetails)
	if strings.Contains(el, "By=") || !strings.Contains(el, ";URI=;DNS=plain.example.com") {
		t.Errorf("element without URI SANs = %q", el)
	}
}

// TestXFCCThroughPrepare: the request path sets XFCC from r.TLS with the
// listener's settings.
func TestXFCCThroughPrepare(t *testing.T) {
	ca := testpki.NewCA(t, "clients")
	client := ca.Client(t, "spiffe://cluster.local/ns/default/sa/client")
	c := &Conn{Peer: netip.MustParseAddrPort("192.0.2.5:1"), Settings: &Settings{ClientCert: AppendForward}}
	r := &http.Request{
		Header: http.Header{XFCCHeader: {"By=x;Hash=y"}},
		TLS:    &tls.ConnectionState{PeerCertificates: []*x509.Certificate{client.Cert}},
	}
	r = Prepare(r.WithContext(WithConn(t.Context(), c)))
	if got := r.Header.Get(XFCCHeader); !strings.HasPrefix(got, "By=x;Hash=y,Hash=") {
		t.Errorf("XFCC = %.40s..., want the client's element, a comma, then this hop's", got)
	}
	if d := DecisionFrom(r.Context()); d.Proto != "https" {
		t.Errorf("proto on a TLS connection = %s", d.Proto)
	}
}
