package app

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/dataplane/forwarded"
	"github.com/meshgate/meshgate/internal/dataplane/listener"
)

// TestForwardingHeadersEndToEnd sends Envoy's documented request through
// a real gateway behind a PROXY protocol load balancer, with
// numTrustedProxies 0, 1 and 2, and reads what the backend received.
// The PROXY header makes the downstream address Envoy's example one,
// 192.0.2.5; the request carries XFF "203.0.113.128, 203.0.113.10,
// 203.0.113.1" (configuration/http/http_conn_man/headers, examples 1 and
// 3), X-Forwarded-Proto: https and a forged x-envoy-internal.
func TestForwardingHeadersEndToEnd(t *testing.T) {
	const chain = "203.0.113.128, 203.0.113.10, 203.0.113.1"
	for _, tc := range []struct {
		hops     uint32
		xff      string
		external string
		proto    string
	}{
		// Example 1: "Trusted client address = 192.0.2.5 (XFF is
		// ignored)", XFF "203.0.113.128, 203.0.113.10, 203.0.113.1,
		// 192.0.2.5"; X-Forwarded-Proto from an untrusted hop is replaced.
		{0, chain, "192.0.2.5", "http"},
		{1, chain, "203.0.113.1", "https"},
		// Example 3: "Trusted client address = 203.0.113.10 (2nd to last
		// address in XFF is trusted)".
		{2, chain, "203.0.113.10", "https"},
		{2, "", "192.0.2.5", "https"},
	} {
		t.Run(fmt.Sprintf("hops=%d/xff=%q", tc.hops, tc.xff), func(t *testing.T) {
			s := newSite(t)
			s.start(t, Topology{
				Forwarded:     forwarded.Settings{NumTrustedProxies: tc.hops},
				ProxyProtocol: &listener.ProxyProtocol{},
			})
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.port))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			req := "PROXY TCP4 192.0.2.5 10.0.0.1 40000 80\r\nGET / HTTP/1.1\r\nHost: example.com\r\n" +
				"X-Forwarded-Proto: https\r\nX-Envoy-Internal: true\r\nConnection: close\r\n"
			if tc.xff != "" {
				req += "X-Forwarded-For: " + tc.xff + "\r\n"
			}
			if _, err := io.WriteString(c, req+"\r\n"); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got := map[string]string{}
			for _, line := range strings.Split(string(body), "\n") {
				if kv, ok := strings.CutPrefix(line, "header "); ok {
					k, v, _ := strings.Cut(kv, "=")
					got[k] = v
				}
			}
			wantXFF := "192.0.2.5"
			if tc.xff != "" {
				wantXFF = tc.xff + ", 192.0.2.5"
			}
			for k, want := range map[string]string{
				"X-Forwarded-For":          wantXFF,
				"X-Envoy-External-Address": tc.external,
				"X-Forwarded-Proto":        tc.proto,
				"X-Envoy-Internal":         "",
			} {
				if got[k] != want {
					t.Errorf("upstream %s = %q, want %q", k, got[k], want)
				}
			}
		})
	}
}
