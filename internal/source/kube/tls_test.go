package kube_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/echo"
	"github.com/meshgate/meshgate/internal/testpki"
	networkingv1 "istio.io/api/networking/v1"
	clientnetworking "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestCredentialRotation serves HTTPS with a certificate from the Secret
// a Gateway server names as its credentialName, then rotates the Secret
// in the API: new handshakes get the new certificate, without a restart.
func TestCredentialRotation(t *testing.T) {
	e := newEnv(t)
	ca := testpki.NewCA(t, "rotation CA")
	first, second := ca.Server(t, "secure.example.com"), ca.Server(t, "secure.example.com")
	secret := func(l *testpki.Leaf) *corev1.Secret {
		return &corev1.Secret{
			ObjectMeta: e.meta("cred", nil), Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{"tls.crt": l.CertPEM, "tls.key": l.KeyPEM},
		}
	}
	e.must(e.kube.CoreV1().Secrets(e.ns).Create(e.ctx, secret(first), metav1.CreateOptions{}))

	port := freePort(t)
	e.must(e.istio.NetworkingV1().Gateways(e.ns).Create(e.ctx, &clientnetworking.Gateway{
		ObjectMeta: e.meta("gw", nil),
		Spec: networkingv1.Gateway{
			Selector: map[string]string{"istio": "ingressgateway"},
			Servers: []*networkingv1.Server{{
				Port:  &networkingv1.Port{Number: uint32(port), Name: "https", Protocol: "HTTPS"},
				Hosts: []string{"secure.example.com"},
				Tls:   &networkingv1.ServerTLSSettings{Mode: networkingv1.ServerTLSSettings_SIMPLE, CredentialName: "cred"},
			}},
		},
	}, metav1.CreateOptions{}))
	e.route("echo", "gw", "echo")
	e.service("echo", map[string]string{"app": "echo"}, nil)
	e.slice("echo-1", "echo", ready(e.backend("echo", map[string]string{"app": "echo"}, "")))
	e.startGateway(e.config, port, nil)

	tlsConfig := &tls.Config{ServerName: "secure.example.com", RootCAs: ca.Pool()}
	served := func() (string, error) {
		conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port), tlsConfig)
		if err != nil {
			return "", err
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.String(), nil
	}
	if got, err := served(); err != nil || got != first.Cert.SerialNumber.String() {
		t.Fatalf("first handshake: serial %s, %v; want the first certificate's", got, err)
	}
	// secure.example.com resolves nowhere: dial the gateway by address.
	https := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialTLSContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&tls.Dialer{Config: tlsConfig}).DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", port))
		},
	}}
	resp, err := https.Get(fmt.Sprintf("https://secure.example.com:%d/", port))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get(echo.NameHeader) != "echo" {
		t.Errorf("HTTPS request = %d from %q", resp.StatusCode, resp.Header.Get(echo.NameHeader))
	}

	cur, err := e.kube.CoreV1().Secrets(e.ns).Get(e.ctx, "cred", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	next := secret(second)
	next.ResourceVersion = cur.ResourceVersion
	e.must(e.kube.CoreV1().Secrets(e.ns).Update(e.ctx, next, metav1.UpdateOptions{}))
	took := waitFor(t, 5*time.Second, "the rotated certificate", func() bool {
		got, err := served()
		return err == nil && got == second.Cert.SerialNumber.String()
	})
	t.Logf("new handshakes got the rotated certificate %v after the update", took.Round(time.Millisecond))
	if took > 2*time.Second {
		t.Errorf("rotation took %v, want within 2s", took)
	}
}
