package dataplane

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/echo"
	"github.com/meshgate/meshgate/internal/snapshot"
)

// Helpers for the tests of route and cluster policies: a gateway on a
// real listener with options, backends that count their requests, and a
// sleep that records instead of waiting.

// sleeps records the waits the request path asks for and returns at
// once, so backoff and fault delays cost no wall-clock time.
type sleeps struct {
	mu sync.Mutex
	ds []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.ds = append(s.ds, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.ds...)
}

// policyGateway is a Server with options on a test listener, with its
// access log.
type policyGateway struct {
	srv  *Server
	url  string
	logs *syncBuffer
}

func startPolicyGateway(t *testing.T, snap *snapshot.Snapshot, opts Options) *policyGateway {
	t.Helper()
	g := &policyGateway{logs: &syncBuffer{}}
	opts.AccessLog = jsonAccessLog(t, g.logs)
	g.srv = New(opts)
	t.Cleanup(g.srv.Close)
	snap.Seal()
	g.srv.Apply(snap)
	ts := httptest.NewServer(g.srv.Handler(SocketAddress(snap.Listeners[0])))
	t.Cleanup(ts.Close)
	g.url = ts.URL
	return g
}

// send makes one request to the gateway for example.com and returns the
// response with its body read.
func (g *policyGateway) send(t *testing.T, method, path string, hdr http.Header, body string) (*http.Response, string) {
	t.Helper()
	resp, b, err := sendTo(http.DefaultTransport, g.url, method, path, hdr, body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func sendTo(rt http.RoundTripper, base, method, path string, hdr http.Header, body string) (*http.Response, string, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return nil, "", err
	}
	req.Host = "example.com"
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b), err
}

// lastLog waits for n access-log lines and returns the last.
func (g *policyGateway) lastLog(t *testing.T, n int) map[string]any {
	t.Helper()
	lines := g.logs.waitLines(t, n)
	if len(lines) < n {
		t.Fatalf("%d access-log lines, want %d", len(lines), n)
	}
	return lines[n-1]
}

// clusterStatus returns the live status of the named cluster.
func (g *policyGateway) clusterStatus(t *testing.T, name string) ClusterStatus {
	t.Helper()
	for _, c := range g.srv.Clusters() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no cluster %s", name)
	return ClusterStatus{}
}

// backend starts an echo backend that counts its requests.
func backend(t *testing.T, name string) *echo.Server {
	t.Helper()
	return switchable(t, name)
}

// waitFor polls cond until it holds or five seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// routeWith is a route to one cluster with the given policy fields set
// by the caller.
func routeWith(clusterName string, set func(*snapshot.Route)) *snapshot.Route {
	r := &snapshot.Route{Name: "r", Destinations: []snapshot.WeightedCluster{{Cluster: clusterName, Weight: 100}}}
	if set != nil {
		set(r)
	}
	return r
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}
