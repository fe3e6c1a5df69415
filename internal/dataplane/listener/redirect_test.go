package listener_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/internal/dataplane/forwarded"
	"github.com/meshgate/meshgate/internal/dataplane/listener"
)

// tlsTerminatingLB starts what a cloud load balancer with a certificate
// does: it ends TLS and forwards plain HTTP to the gateway with
// X-Forwarded-For and X-Forwarded-Proto: https, keeping the Host.
func tlsTerminatingLB(t *testing.T, gateway string) *httptest.Server {
	t.Helper()
	target := &url.URL{Scheme: "http", Host: gateway}
	lb := httptest.NewTLSServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.SetXForwarded() // X-Forwarded-Proto: https, from the TLS connection
		pr.Out.Host = pr.In.Host
	}})
	t.Cleanup(lb.Close)
	return lb
}

// TestHTTPSRedirectBehindTLSTerminatingHop: a server with httpsRedirect
// behind a load balancer that ends TLS. Envoy trusts X-Forwarded-Proto
// only from trusted hops ("Downstream x-forwarded-proto headers will only
// be trusted if xff_num_trusted_hops is non-zero"); without that trust
// every request is redirected to the https URL it came in on, forever
// (istio#16778). With numTrustedProxies 1 (or the load balancer in the
// trusted CIDRs) the request is served.
func TestHTTPSRedirectBehindTLSTerminatingHop(t *testing.T) {
	for _, tc := range []struct {
		name     string
		settings *forwarded.Settings
		loops    bool
	}{
		{"untrusted", nil, true},
		{"numTrustedProxies 1", &forwarded.Settings{NumTrustedProxies: 1}, false},
		{"trusted CIDRs", &forwarded.Settings{TrustedCIDRs: mustPrefixes(t, "127.0.0.0/8")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncBuffer
			h := newHarness(t, func(o *listener.Options) {
				o.Forwarded = tc.settings
				o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			})
			svc, addrs := gatewayService(t, 80)
			h.apply(plainConfig(svc, startEcho(t, "web-1"), "{httpsRedirect: true}"))
			lb := tlsTerminatingLB(t, addrs[80])

			resp, err := lb.Client().Get(lb.URL + "/app?x=1")
			if tc.loops {
				if err == nil || !strings.Contains(err.Error(), "stopped after 10 redirects") {
					t.Fatalf("want a redirect loop, got %v", err)
				}
				if !h.mgr.UntrustedHTTPSRedirects() {
					t.Error("the loop was not noticed")
				}
				if n := strings.Count(logs.String(), "httpsRedirect answered 301"); n != 1 {
					t.Errorf("warned %d times, want once:\n%s", n, logs.String())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "name=web-1") {
				t.Fatalf("status %d:\n%s", resp.StatusCode, body)
			}
			if h.mgr.UntrustedHTTPSRedirects() {
				t.Error("a trusted request was reported as untrusted")
			}

			// Plain HTTP straight to the gateway is still redirected: the
			// trusted hop did not say https.
			c := client(addrs[80], clientOptions{})
			resp, _, err = get(t, c, "http://web.example.com/app")
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "https://web.example.com/app" {
				t.Errorf("plain request: %d Location %q, want 301 to https", resp.StatusCode, resp.Header.Get("Location"))
			}
		})
	}
}

func mustPrefixes(t *testing.T, s string) []netip.Prefix {
	t.Helper()
	ps, err := listener.ParsePrefixes(s)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}
