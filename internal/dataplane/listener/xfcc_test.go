package listener_test

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/internal/dataplane/forwarded"
	"github.com/meshgate/meshgate/internal/dataplane/listener"
	"github.com/meshgate/meshgate/internal/testpki"
)

// TestXFCCOnRealListeners runs forwardClientCertDetails modes on MUTUAL
// and SIMPLE HTTPS listeners: the client certificate comes from the TLS
// connection (r.TLS) and the gateway's own URI SAN is the "By" key.
func TestXFCCOnRealListeners(t *testing.T) {
	ca := testpki.NewCA(t, "mesh-ca")
	server := ca.Server(t, "web.example.com", "spiffe://cluster.local/ns/istio-system/sa/ingressgateway")
	clientCert := ca.Client(t, "spiffe://cluster.local/ns/default/sa/client")
	sum := sha256.Sum256(clientCert.Cert.Raw)
	hash := "Hash=" + hex.EncodeToString(sum[:])
	const by = "By=spiffe://cluster.local/ns/istio-system/sa/ingressgateway"
	const sent = "By=spiffe://evil;Hash=00"

	for _, tc := range []struct {
		name    string
		mode    forwarded.ClientCertMode
		mutual  bool
		want    []string // substrings of the XFCC upstream, in order
		wantNot bool     // no XFCC upstream at all
		exactly string   // the XFCC upstream, when it must be exactly this
	}{
		{"default is SANITIZE_SET", forwarded.ClientCertUndefined, true,
			[]string{by + ";" + hash + ";Cert=\"-----BEGIN%20CERTIFICATE", "Subject=\"CN=spiffe://cluster.local/ns/default/sa/client\"",
				"URI=spiffe://cluster.local/ns/default/sa/client"}, false, ""},
		{"APPEND_FORWARD", forwarded.AppendForward, true, []string{sent + "," + by + ";" + hash}, false, ""},
		{"FORWARD_ONLY", forwarded.ForwardOnly, true, nil, false, sent},
		{"SANITIZE", forwarded.Sanitize, true, nil, true, ""},
		{"SANITIZE_SET without client certificate", forwarded.SanitizeSet, false, nil, true, ""},
		{"FORWARD_ONLY without client certificate", forwarded.ForwardOnly, false, nil, true, ""},
		{"ALWAYS_FORWARD_ONLY without client certificate", forwarded.AlwaysForwardOnly, false, nil, false, sent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(o *listener.Options) { o.Forwarded = &forwarded.Settings{ClientCert: tc.mode} })
			svc, addrs := gatewayService(t, 443)
			tlsBlock, secret := "{mode: SIMPLE, credentialName: web-cert}", tlsSecret("web-cert", server, nil)
			opts := clientOptions{roots: ca.Pool()}
			if tc.mutual {
				tlsBlock, secret = "{mode: MUTUAL, credentialName: web-cert}", tlsSecret("web-cert", server, ca.CertPEM)
				opts.certs = []tls.Certificate{clientCert.TLS}
			}
			h.apply(webConfig(svc, secret, startEcho(t, "web-1"), tlsBlock))
			c := client(addrs[443], opts)
			req, _ := http.NewRequest("GET", "https://web.example.com/", nil)
			req.Header.Set(forwarded.XFCCHeader, sent)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, resp)
			got, present := "", false
			for _, line := range strings.Split(body, "\n") {
				if v, ok := strings.CutPrefix(line, "header X-Forwarded-Client-Cert="); ok {
					got, present = v, true
				}
			}
			switch {
			case tc.wantNot && present:
				t.Fatalf("XFCC %q sent upstream, want none", got)
			case !tc.wantNot && !present:
				t.Fatalf("no XFCC upstream:\n%s", body)
			case tc.exactly != "" && got != tc.exactly:
				t.Fatalf("XFCC %q, want %q", got, tc.exactly)
			}
			rest := got
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("XFCC %q lacks %q (in order)", got, w)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
