package dataplane

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/echo"
	"github.com/meshgate/meshgate/internal/snapshot"
	"github.com/meshgate/meshgate/internal/telemetry/accesslog"
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if l == "" {
			continue
		}
		m := map[string]any{}
		_ = json.Unmarshal([]byte(l), &m)
		out = append(out, m)
	}
	return out
}

// waitLines waits for n access-log lines: a request is logged when its
// handler returns, which may be just after the client has the response.
func (s *syncBuffer) waitLines(t *testing.T, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		lines := s.lines()
		if len(lines) >= n || time.Now().After(deadline) {
			return lines
		}
		time.Sleep(time.Millisecond)
	}
}

func startEcho(t *testing.T, name string) string {
	t.Helper()
	s, err := echo.Start(name, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.Addr()
}

// closedAddr returns an address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// serveSnapshot applies snap and returns a test server for its first
// listener, plus the access log.
func serveSnapshot(t *testing.T, snap *snapshot.Snapshot) (*httptest.Server, *syncBuffer) {
	t.Helper()
	logBuf := &syncBuffer{}
	s := New(Options{AccessLog: jsonAccessLog(t, logBuf)})
	snap.Seal()
	s.Apply(snap)
	t.Cleanup(s.Close)
	ts := httptest.NewServer(s.Handler(SocketAddress(snap.Listeners[0])))
	t.Cleanup(ts.Close)
	return ts, logBuf
}

func oneRouteSnapshot(route *snapshot.Route, clusters ...*snapshot.Cluster) *snapshot.Snapshot {
	return &snapshot.Snapshot{
		Listeners: []*snapshot.Listener{{
			Name: "0.0.0.0_80", Port: 80, BindPort: 8080, Protocol: snapshot.ProtocolHTTP,
			VirtualHosts: []*snapshot.VirtualHost{{
				Name: "example.com", Domains: []string{"example.com"},
				Routes: []*snapshot.Route{route},
			}},
		}},
		Clusters: clusters,
	}
}

func cluster(name string, kind snapshot.LBKind, addrs ...string) *snapshot.Cluster {
	c := &snapshot.Cluster{Name: name, LB: snapshot.LBPolicy{Kind: kind}, UpstreamProtocol: snapshot.UpstreamHTTP1}
	for _, a := range addrs {
		c.Endpoints = append(c.Endpoints, snapshot.Endpoint{Address: a, Weight: 1})
	}
	return c
}

// routeTo is a route to one cluster carrying Istio's built-in retry
// policy, as translate gives every route without `retries`.
func routeTo(clusterName string) *snapshot.Route {
	return &snapshot.Route{
		Name:         "r",
		Destinations: []snapshot.WeightedCluster{{Cluster: clusterName, Weight: 100}},
		Retry:        istioDefaultRetry(),
	}
}

// istioDefaultRetry is Istio's built-in policy: 2 retries on
// connect-failure, refused-stream, unavailable, cancelled and
// retriable-status-codes (with no codes), avoiding hosts already tried.
func istioDefaultRetry() *snapshot.RetryPolicy {
	return &snapshot.RetryPolicy{
		Attempts:            2,
		RetryOn:             []string{"cancelled", "connect-failure", "refused-stream", "retriable-status-codes", "unavailable"},
		IgnorePreviousHosts: true,
		BackoffBase:         25 * time.Millisecond,
		Default:             true,
	}
}

func get(t *testing.T, url, host string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Host = host
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

func TestEnvoyStatusesAndFlags(t *testing.T) {
	live := startEcho(t, "a")
	dead := closedAddr(t)
	tests := []struct {
		name       string
		snap       *snapshot.Snapshot
		host       string
		wantStatus int
		wantFlags  string
		wantBody   string
		wantHost   string
	}{
		{"no virtual host", oneRouteSnapshot(routeTo("c"), cluster("c", snapshot.LBRoundRobin, live)),
			"other.com", 404, "NR", "", ""},
		{"no route matches", oneRouteSnapshot(&snapshot.Route{Name: "r",
			Matches:      []snapshot.Match{{URI: &snapshot.StringMatch{Kind: snapshot.Exact, Value: "/only"}}},
			Destinations: []snapshot.WeightedCluster{{Cluster: "c", Weight: 1}}}, cluster("c", snapshot.LBRoundRobin, live)),
			"example.com", 404, "NR", "", ""},
		{"cluster missing", oneRouteSnapshot(routeTo("missing")),
			"example.com", 503, "NC", "", ""},
		{"cluster without endpoints", oneRouteSnapshot(routeTo("c"), cluster("c", snapshot.LBRoundRobin)),
			"example.com", 503, "UH", "no healthy upstream", ""},
		{"connect failure", oneRouteSnapshot(routeTo("c"), cluster("c", snapshot.LBRoundRobin, dead)),
			"example.com", 503, "UF,URX", "upstream connect error or disconnect/reset before headers. retried and the latest reset reason: connection failure", dead},
		{"served", oneRouteSnapshot(routeTo("c"), cluster("c", snapshot.LBRoundRobin, live)),
			"example.com:8080", 200, "-", "name=a", live},
		{"direct response", oneRouteSnapshot(&snapshot.Route{Name: "r",
			DirectResponse: &snapshot.DirectResponse{Status: 418, Body: []byte("teapot")}}),
			"example.com", 418, "-", "teapot", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts, logs := serveSnapshot(t, tc.snap)
			resp, body := get(t, ts.URL+"/path", tc.host, nil)
			if resp.StatusCode != tc.wantStatus || !strings.Contains(body, tc.wantBody) {
				t.Fatalf("got %d %q, want %d containing %q", resp.StatusCode, body, tc.wantStatus, tc.wantBody)
			}
			lines := logs.waitLines(t, 1)
			if len(lines) != 1 {
				t.Fatalf("want one access-log line, got %d", len(lines))
			}
			if got := lines[0]["response_flags"]; got != tc.wantFlags {
				t.Errorf("response_flags = %v, want %s", got, tc.wantFlags)
			}
			if got := lines[0]["response_code"]; got != float64(tc.wantStatus) {
				t.Errorf("response_code = %v, want %d", got, tc.wantStatus)
			}
			if tc.wantHost != "" && lines[0]["upstream_host"] != tc.wantHost {
				t.Errorf("upstream_host = %v, want %s", lines[0]["upstream_host"], tc.wantHost)
			}
		})
	}
}

// Istio's default retry policy retries connect failures on other
// endpoints; with one dead and one live endpoint no request may fail.
func TestConnectFailureRetriedOnAnotherEndpoint(t *testing.T) {
	live := startEcho(t, "live")
	dead := closedAddr(t)
	ts, _ := serveSnapshot(t, oneRouteSnapshot(routeTo("c"), cluster("c", snapshot.LBRoundRobin, dead, live)))
	for i := range 20 {
		resp, body := get(t, ts.URL, "example.com", nil)
		if resp.StatusCode != 200 || resp.Header.Get(echo.NameHeader) != "live" {
			t.Fatalf("request %d: %d %q, want 200 from the live endpoint", i, resp.StatusCode, body)
		}
	}
}

func TestForwardedHeadersAndRequestID(t *testing.T) {
	live := startEcho(t, "a")
	ts, logs := serveSnapshot(t, oneRouteSnapshot(routeTo("c"), cluster("c", snapshot.LBRoundRobin, live)))
	_, body := get(t, ts.URL+"/x?y=1", "example.com", map[string]string{"X-Forwarded-For": "203.0.113.7"})
	for _, want := range []string{
		"header X-Forwarded-For=203.0.113.7, 127.0.0.1\n",
		"header X-Forwarded-Proto=http\n",
		"host=example.com\n",
		"uri=/x?y=1\n",
		"header X-Request-Id=",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("upstream saw no %q in:\n%s", want, body)
		}
	}
	if id, _ := logs.waitLines(t, 1)[0]["request_id"].(string); len(id) != 36 {
		t.Errorf("request_id = %q, want a generated UUID", id)
	}
}

func TestConsistentHashStickiness(t *testing.T) {
	var addrs []string
	for _, n := range []string{"a", "b", "c", "d"} {
		addrs = append(addrs, startEcho(t, n))
	}
	c := cluster("c", snapshot.LBRingHash, addrs...)
	c.LB.Hash = &snapshot.HashPolicy{Header: "x-user"}
	ts, _ := serveSnapshot(t, oneRouteSnapshot(routeTo("c"), c))
	seen := map[string]bool{}
	for _, user := range []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"} {
		first := ""
		for range 5 {
			resp, _ := get(t, ts.URL, "example.com", map[string]string{"x-user": user})
			name := resp.Header.Get(echo.NameHeader)
			if first == "" {
				first = name
			} else if name != first {
				t.Fatalf("user %s went to %s then %s; want one endpoint", user, first, name)
			}
		}
		seen[first] = true
	}
	if len(seen) < 2 {
		t.Errorf("8 users all hashed to %v; want them spread", seen)
	}
}

func BenchmarkProxiedRequest(b *testing.B) {
	s, err := echo.Start("a", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	srv := New(Options{})
	defer srv.Close()
	snap := oneRouteSnapshot(routeTo("c"), cluster("c", snapshot.LBLeastRequest, s.Addr()))
	snap.Seal()
	srv.Apply(snap)
	ts := httptest.NewServer(srv.Handler(SocketAddress(snap.Listeners[0])))
	defer ts.Close()
	client := ts.Client()
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/", nil)
	req.Host = "example.com"
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

// jsonAccessLog is an access log in Istio's JSON format, every record,
// flushed every millisecond into w.
func jsonAccessLog(t testing.TB, w io.Writer) *accesslog.Logger {
	lg := accesslog.New(w, accesslog.Options{Format: accesslog.JSON, SamplePercent: 100, FlushInterval: time.Millisecond})
	t.Cleanup(func() { _ = lg.Close() })
	return lg
}
