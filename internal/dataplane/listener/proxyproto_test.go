package listener_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/dataplane/forwarded"
	"github.com/meshgate/meshgate/internal/dataplane/listener"
	"github.com/meshgate/meshgate/internal/telemetry/accesslog"
	"github.com/meshgate/meshgate/internal/testpki"
)

// plainConfig serves every host over plain HTTP on port 80 from the echo
// backend; tlsBlock, when set, is the server's tls (httpsRedirect).
func plainConfig(service, backend, tlsBlock string) string {
	server := `  - port: {number: 80, name: http, protocol: HTTP}
    bind: 127.0.0.1
    hosts: ["*"]
`
	if tlsBlock != "" {
		server += "    tls: " + tlsBlock + "\n"
	}
	return service + serviceEntry("web", "web.internal", 80, "HTTP", backend) + `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
` + server + `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [gw]
  http:
  - route: [{destination: {host: web.internal, port: {number: 80}}}]
`
}

// proxyV2 builds a PROXY protocol v2 header by hand, per the HAProxy
// specification (section 2.2): the 12-byte signature, version 2 with the
// command (0x0 LOCAL, 0x1 PROXY), the family (0x11 TCP over IPv4), the
// address length, then source and destination addresses and ports.
func proxyV2(command byte, src, dst netip.AddrPort) []byte {
	b := []byte("\r\n\r\n\x00\r\nQUIT\n")
	b = append(b, 0x20|command)
	if command == 0 {
		return append(b, 0x00, 0, 0) // LOCAL, UNSPEC, no addresses
	}
	b = append(b, 0x11, 0, 12)
	s4, d4 := src.Addr().As4(), dst.Addr().As4()
	b = append(b, s4[:]...)
	b = append(b, d4[:]...)
	b = binary.BigEndian.AppendUint16(b, src.Port())
	return binary.BigEndian.AppendUint16(b, dst.Port())
}

// rawGet sends prefix and an HTTP/1.1 request on a new connection to
// addr and returns the response body, or the error reading a response.
func rawGet(t *testing.T, addr string, prefix []byte, split bool) (string, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if split && len(prefix) > 4 {
		// A slow load balancer: the header arrives in two segments.
		_, _ = c.Write(prefix[:4])
		time.Sleep(50 * time.Millisecond)
		prefix = prefix[4:]
	}
	req := "GET /hello HTTP/1.1\r\nHost: web.example.com\r\nConnection: close\r\n\r\n"
	if _, err := c.Write(append(append([]byte(nil), prefix...), req...)); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

// externalAddress is the x-envoy-external-address the backend saw: the
// trusted client address.
func externalAddress(body string) string {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, "header X-Envoy-External-Address="); ok {
			return v
		}
	}
	return ""
}

// TestProxyProtocolThroughListener sends PROXY v1 and v2 headers to a
// real listener and checks that the header's source is the client the
// gateway tells its upstream about, and that connections without a valid
// header are closed (Envoy's proxy_protocol filter requires one).
func TestProxyProtocolThroughListener(t *testing.T) {
	h := newHarness(t, func(o *listener.Options) { o.ProxyProtocol = &listener.ProxyProtocol{} })
	svc, addrs := gatewayService(t, 80)
	h.apply(plainConfig(svc, startEcho(t, "web-1"), ""))
	lb := netip.MustParseAddrPort("198.51.100.9:41000")
	vip := netip.MustParseAddrPort("192.0.2.1:80")
	for _, tc := range []struct {
		name   string
		prefix []byte
		split  bool
		// want is the client address; "" when the connection must close.
		want string
	}{
		// The specification's v1 examples: "PROXY TCP4 255.255.255.255
		// 255.255.255.255 65535 65535\r\n" and the TCP6 form.
		{"v1 TCP4", []byte("PROXY TCP4 203.0.113.7 192.0.2.1 56324 80\r\n"), false, "203.0.113.7"},
		{"v1 TCP6", []byte("PROXY TCP6 2001:db8::7 2001:db8::1 56324 80\r\n"), false, "2001:db8::7"},
		{"v1 split", []byte("PROXY TCP4 203.0.113.8 192.0.2.1 56324 80\r\n"), true, "203.0.113.8"},
		{"v1 UNKNOWN", []byte("PROXY UNKNOWN\r\n"), false, "127.0.0.1"},
		{"v2 PROXY", proxyV2(1, lb, vip), false, "198.51.100.9"},
		{"v2 split", proxyV2(1, lb, vip), true, "198.51.100.9"},
		// Load balancers' health checks: LOCAL carries no client.
		{"v2 LOCAL", proxyV2(0, lb, vip), false, "127.0.0.1"},
		{"no header", nil, false, ""},
		{"malformed v1", []byte("PROXY TCP4 nonsense\r\n"), false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, err := rawGet(t, addrs[80], tc.prefix, tc.split)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("served without a valid PROXY header:\n%s", body)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := externalAddress(body); got != tc.want {
				t.Errorf("client address %q, want %q; backend saw:\n%s", got, tc.want, body)
			}
		})
	}
}

// TestProxyProtocolAllowList: only the load balancers may send PROXY
// headers. A connection from elsewhere is closed before anything is read
// (policy reject), or served as a direct client, whose own PROXY header is
// then a spoofing attempt that closes it (policy direct).
func TestProxyProtocolAllowList(t *testing.T) {
	header := []byte("PROXY TCP4 203.0.113.7 192.0.2.1 56324 80\r\n")
	elsewhere := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	for _, tc := range []struct {
		name      string
		pp        listener.ProxyProtocol
		prefix    []byte
		want      string // "" when refused
		refusedBy bool
	}{
		{"source allowed", listener.ProxyProtocol{Allowed: loopback}, header, "203.0.113.7", false},
		{"source outside, reject", listener.ProxyProtocol{Allowed: elsewhere}, header, "", true},
		{"source outside, reject, no header", listener.ProxyProtocol{Allowed: elsewhere}, nil, "", true},
		{"source outside, direct, no header", listener.ProxyProtocol{Allowed: elsewhere, Outside: listener.OutsideDirect}, nil, "127.0.0.1", false},
		{"source outside, direct, spoofed header", listener.ProxyProtocol{Allowed: elsewhere, Outside: listener.OutsideDirect}, header, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pp := tc.pp
			h := newHarness(t, func(o *listener.Options) { o.ProxyProtocol = &pp })
			svc, addrs := gatewayService(t, 80)
			h.apply(plainConfig(svc, startEcho(t, "web-1"), ""))
			body, err := rawGet(t, addrs[80], tc.prefix, false)
			switch {
			case tc.want == "" && err == nil:
				t.Fatalf("served:\n%s", body)
			case tc.want != "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && externalAddress(body) != tc.want:
				t.Errorf("client address %q, want %q", externalAddress(body), tc.want)
			}
			var refused uint64
			for _, s := range h.mgr.Status() {
				refused += s.Refused
			}
			if (refused > 0) != tc.refusedBy {
				t.Errorf("%d connections counted as refused", refused)
			}
		})
	}
}

// TestProxyHeaderTimeout: a connection that does not complete its header
// in time is closed. (A v1 header must arrive in one read, as the
// specification asks senders to ensure; a partial v2 header may take
// several, until the timeout.)
func TestProxyHeaderTimeout(t *testing.T) {
	h := newHarness(t, func(o *listener.Options) {
		o.ProxyProtocol = &listener.ProxyProtocol{HeaderTimeout: 300 * time.Millisecond}
	})
	svc, addrs := gatewayService(t, 80)
	h.apply(plainConfig(svc, startEcho(t, "web-1"), ""))
	header := proxyV2(1, netip.MustParseAddrPort("198.51.100.9:41000"), netip.MustParseAddrPort("192.0.2.1:80"))
	for _, sent := range [][]byte{nil, header[:14]} {
		c, err := net.Dial("tcp", addrs[80])
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write(sent)
		start := time.Now()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatalf("after %q: the gateway answered a connection without a complete header", sent)
		}
		if d := time.Since(start); d < 200*time.Millisecond || d > 2*time.Second {
			t.Errorf("after %q: closed after %v, want about the 300ms header timeout", sent, d)
		}
		c.Close()
	}
}

// TestProxyProtocolBeforeTLSAndTCP: the PROXY header comes before the
// ClientHello on TLS listeners, and its source is the downstream address
// of L4 connections too (access log).
func TestProxyProtocolBeforeTLSAndTCP(t *testing.T) {
	var logBuf syncBuffer
	h := newHarness(t, func(o *listener.Options) {
		o.ProxyProtocol = &listener.ProxyProtocol{}
		o.AccessLog = jsonAccessLog(t, &logBuf)
	})
	ca := testpki.NewCA(t, "gateway-ca")
	svc, addrs := gatewayService(t, 443, 9000)
	config := webConfig(svc, tlsSecret("web-cert", ca.Server(t, "web.example.com"), nil), startEcho(t, "web-1"),
		"{mode: SIMPLE, credentialName: web-cert}") + "---\n" +
		serviceEntry("db", "db.internal", 9000, "TCP", startTCPEcho(t, "db-1")) + `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: tcp, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 9000, name: tcp, protocol: TCP}
    bind: 127.0.0.1
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [tcp]
  tcp:
  - route: [{destination: {host: db.internal, port: {number: 9000}}}]
`
	h.apply(config)

	raw, err := net.Dial("tcp", addrs[443])
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_, _ = raw.Write(proxyV2(1, netip.MustParseAddrPort("198.51.100.9:41000"), netip.MustParseAddrPort("192.0.2.1:443")))
	tc := tls.Client(raw, &tls.Config{ServerName: "web.example.com", RootCAs: ca.Pool()})
	_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(tc, "GET / HTTP/1.1\r\nHost: web.example.com\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if got := externalAddress(string(body)); got != "198.51.100.9" {
		t.Errorf("HTTPS client address %q, want the PROXY source 198.51.100.9", got)
	}
	if !strings.Contains(string(body), "header X-Forwarded-Proto=https") {
		t.Errorf("X-Forwarded-Proto is not https:\n%s", body)
	}

	c, err := net.Dial("tcp", addrs[9000])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, "PROXY TCP4 203.0.113.7 192.0.2.1 56324 9000\r\n")
	if got := tcpExchange(t, c, "ping"); got != "ping|db-1" {
		t.Fatalf("TCP exchange = %q", got)
	}
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(logBuf.String(), `"downstream_remote_address":"203.0.113.7:56324"`) {
		if time.Now().After(deadline) {
			t.Fatalf("the L4 access log does not name the PROXY source:\n%s", logBuf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestClientAddressDebugHeader: the opt-in response header says how the
// client address was derived.
func TestClientAddressDebugHeader(t *testing.T) {
	h := newHarness(t, func(o *listener.Options) {
		o.ProxyProtocol = &listener.ProxyProtocol{}
		o.Forwarded = &forwarded.Settings{NumTrustedProxies: 1, DebugHeader: true}
	})
	svc, addrs := gatewayService(t, 80)
	h.apply(plainConfig(svc, startEcho(t, "web-1"), ""))
	c, err := net.Dial("tcp", addrs[80])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, "PROXY TCP4 198.51.100.9 192.0.2.1 41000 80\r\n"+
		"GET / HTTP/1.1\r\nHost: web.example.com\r\nX-Forwarded-For: 203.0.113.7\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := "x-forwarded-for; address=203.0.113.7; peer=198.51.100.9; load-balancer=127.0.0.1"
	if got := resp.Header.Get(forwarded.DebugHeader); got != want {
		t.Errorf("%s = %q, want %q", forwarded.DebugHeader, got, want)
	}
}

// syncBuffer is a bytes.Buffer safe for the access log's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// jsonAccessLog is an access log in Istio's JSON format, every record,
// flushed every millisecond into w.
func jsonAccessLog(t testing.TB, w io.Writer) *accesslog.Logger {
	lg := accesslog.New(w, accesslog.Options{Format: accesslog.JSON, SamplePercent: 100, FlushInterval: time.Millisecond})
	t.Cleanup(func() { _ = lg.Close() })
	return lg
}
