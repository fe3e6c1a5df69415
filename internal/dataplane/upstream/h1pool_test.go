package upstream

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/meshgate/meshgate/internal/dataplane/upstream/h1"
	"github.com/meshgate/meshgate/internal/snapshot"
)

// HTTP/1.1 clusters send through the h1 client; h2c clusters keep
// net/http's transport, which speaks HTTP/2.
func TestClientPerProtocol(t *testing.T) {
	r := NewRegistry(nil)
	mk := func(name string, p snapshot.UpstreamProtocol) *snapshot.Cluster {
		return &snapshot.Cluster{Name: name, UpstreamProtocol: p,
			Endpoints: []snapshot.Endpoint{{Address: "127.0.0.1:1", Weight: 1}}}
	}
	set := buildSet(t, r, mk("h1", snapshot.UpstreamHTTP1), mk("client", snapshot.UpstreamClientProtocol), mk("h2c", snapshot.UpstreamH2C))
	for name, wantH1 := range map[string]bool{"h1": true, "client": true, "h2c": false} {
		_, isH1 := set.Cluster(name).Transport.(*h1.Client)
		if isH1 != wantH1 {
			t.Errorf("cluster %s: h1 client %v, want %v", name, isH1, wantH1)
		}
	}
}

// A transport configured for TLS makes the h1 client speak TLS, offering
// http/1.1 only.
func TestH1DialerUsesTransportTLS(t *testing.T) {
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}))
	ts.EnableHTTP2 = true
	ts.StartTLS()
	t.Cleanup(ts.Close)
	tr := &http.Transport{TLSClientConfig: ts.Client().Transport.(*http.Transport).TLSClientConfig}
	c := h1.New(h1.Options{Dial: h1Dialer(tr)})
	t.Cleanup(c.Close)
	req, _ := http.NewRequestWithContext(context.Background(), "GET", ts.URL, nil)
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "HTTP/1.1" {
		t.Errorf("server saw %q, want HTTP/1.1 over TLS", b)
	}
	// Without the CA the handshake fails: TLS really was in the way.
	bad := h1.New(h1.Options{Dial: h1Dialer(&http.Transport{TLSClientConfig: &tls.Config{}})})
	req, _ = http.NewRequestWithContext(context.Background(), "GET", ts.URL, nil)
	if _, err := bad.RoundTrip(req); err == nil {
		t.Error("handshake with an unknown CA succeeded")
	}
}
