package dataplane

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/dataplane/upstream"
	"github.com/meshgate/meshgate/internal/echo"
	"github.com/meshgate/meshgate/internal/snapshot"
)

const overflowBody = "upstream connect error or disconnect/reset before headers. reset reason: overflow"

type result struct {
	status     int
	overloaded string
	body       string
	err        error
}

// burst sends n concurrent requests and returns their results on a
// channel as they complete.
func burst(g *policyGateway, n int) <-chan result {
	client := &http.Transport{MaxIdleConnsPerHost: n}
	out := make(chan result, n)
	for range n {
		go func() {
			resp, body, err := sendTo(client, g.url, "GET", "/", nil, "")
			if err != nil {
				out <- result{err: err}
				return
			}
			out <- result{status: resp.StatusCode, overloaded: resp.Header.Get("X-Envoy-Overloaded"), body: body}
		}()
	}
	return out
}

// collect reads n results, failing after five seconds.
func collect(t *testing.T, ch <-chan result, n int) []result {
	t.Helper()
	var rs []result
	timeout := time.After(5 * time.Second)
	for len(rs) < n {
		select {
		case r := <-ch:
			if r.err != nil {
				t.Fatal(r.err)
			}
			rs = append(rs, r)
		case <-timeout:
			t.Fatalf("only %d of %d responses arrived: %+v", len(rs), n, rs)
		}
	}
	return rs
}

func countOverflows(t *testing.T, rs []result) (overflowed, ok int) {
	t.Helper()
	for _, r := range rs {
		switch {
		case r.status == 503 && r.overloaded == "true" && r.body == overflowBody:
			overflowed++
		case r.status == 200:
			ok++
		default:
			t.Errorf("unexpected response %+v", r)
		}
	}
	return overflowed, ok
}

// The circuit-breaking case. With maxConnections 1 and
// http1MaxPendingRequests 1, an HTTP/1.1 cluster carries one request on
// its one connection and queues one more; of a burst of 10 concurrent
// requests against a backend that holds every request, the other 8
// overflow at once: 503, x-envoy-overloaded: true, flag UO. The pool is
// warmed first so that Envoy, which also counts a request waiting for a
// new connection's handshake as pending, would answer the same 8.
func TestCircuitBreakingPendingOverflow(t *testing.T) {
	b := backend(t, "b")
	c := cluster("c", snapshot.LBRoundRobin, b.Addr())
	c.Limits = snapshot.ConnectionLimits{MaxConnections: 1, MaxPendingRequests: 1}
	g := startPolicyGateway(t, oneRouteSnapshot(routeWith("c", nil), c), Options{})
	if resp, _ := g.send(t, "GET", "/", nil, ""); resp.StatusCode != 200 {
		t.Fatalf("warm-up: %d", resp.StatusCode)
	}

	b.Hold()
	const n = 10
	ch := burst(g, n)
	first := collect(t, ch, n-2)
	if over, _ := countOverflows(t, first); over != n-2 {
		t.Fatalf("%d of the first %d answers overflowed, want all", over, n-2)
	}
	cb := g.clusterStatus(t, "c").CircuitBreakers
	if cb.Requests != 2 || cb.Pending != 1 || cb.Connections != 1 {
		t.Errorf("while held: %+v, want 2 requests, 1 pending, 1 connection", cb)
	}
	b.Release()
	rest := collect(t, ch, 2)
	if _, ok := countOverflows(t, rest); ok != 2 {
		t.Errorf("the held and the pending request: %d succeeded, want 2", ok)
	}
	if got := b.MaxInFlight(); got != 1 {
		t.Errorf("backend saw up to %d concurrent requests, want 1", got)
	}
	if got := b.Requests(); got != 3 {
		t.Errorf("backend saw %d requests, want the warm-up and 2", got)
	}
	uo := 0
	for _, l := range g.logs.waitLines(t, n+1) {
		if l["response_flags"] == "UO" && l["response_code"] == float64(503) {
			uo++
		}
	}
	if uo != n-2 {
		t.Errorf("%d access-log lines with 503 UO, want %d", uo, n-2)
	}
}

// http2MaxRequests bounds the requests in flight to the cluster,
// whatever the connections.
func TestMaxRequestsOverflow(t *testing.T) {
	b := backend(t, "b")
	c := cluster("c", snapshot.LBRoundRobin, b.Addr())
	c.Limits = snapshot.ConnectionLimits{MaxRequests: 2}
	g := startPolicyGateway(t, oneRouteSnapshot(routeWith("c", nil), c), Options{})
	b.Hold()
	ch := burst(g, 5)
	if over, _ := countOverflows(t, collect(t, ch, 3)); over != 3 {
		t.Fatalf("%d of the first 3 answers overflowed, want all", over)
	}
	waitFor(t, "the admitted requests to reach the backend", func() bool { return b.Requests() == 2 })
	b.Release()
	if _, ok := countOverflows(t, collect(t, ch, 2)); ok != 2 {
		t.Errorf("%d admitted requests succeeded, want 2", ok)
	}
	if got := b.MaxInFlight(); got != 2 {
		t.Errorf("backend saw up to %d concurrent requests, want 2", got)
	}
}

// Over maxConnections, requests wait as pending: the limit is the
// cluster's, over all its endpoints. After the burst the cluster holds at
// most one connection more per endpoint than the limit, Envoy's exception
// that lets an endpoint without a connection always open one.
func TestConnectionLimitIsPerCluster(t *testing.T) {
	var bs []*echo.Server
	var addrs []string
	for _, n := range []string{"a", "b", "c"} {
		b := backend(t, n)
		b.Hold()
		bs = append(bs, b)
		addrs = append(addrs, b.Addr())
	}
	c := cluster("c", snapshot.LBRoundRobin, addrs...)
	c.Limits = snapshot.ConnectionLimits{MaxConnections: 2}
	g := startPolicyGateway(t, oneRouteSnapshot(routeWith("c", nil), c), Options{})
	total := func() (n int64) {
		for _, b := range bs {
			n += b.Requests()
		}
		return n
	}
	ch := burst(g, 6)
	waitFor(t, "4 pending requests", func() bool { return g.clusterStatus(t, "c").CircuitBreakers.Pending == 4 })
	waitFor(t, "2 requests at the backends", func() bool { return total() >= 2 })
	if cb := g.clusterStatus(t, "c").CircuitBreakers; total() != 2 || cb.Connections != 2 {
		t.Errorf("backends saw %d requests over %d connections, want 2 and 2", total(), cb.Connections)
	}
	for _, b := range bs {
		b.Release()
	}
	if _, ok := countOverflows(t, collect(t, ch, 6)); ok != 6 {
		t.Errorf("%d of 6 requests succeeded", ok)
	}
	if cb := g.clusterStatus(t, "c").CircuitBreakers; cb.Connections > 3 {
		t.Errorf("%d connections open, want at most 3 (one per endpoint)", cb.Connections)
	}
	for _, b := range bs {
		if b.MaxInFlight() > 2 {
			t.Errorf("%s saw %d concurrent requests, want at most 2", b.Name, b.MaxInFlight())
		}
	}
}

// maxRetries bounds the retries in progress: a retry over it is not
// made, and the first attempt's response goes back flagged UO.
func TestMaxRetriesOverflow(t *testing.T) {
	near, far := backend(t, "near"), backend(t, "far")
	near.SetStatus(503)
	far.Hold()
	c := cluster("c", snapshot.LBRoundRobin)
	c.Endpoints = []snapshot.Endpoint{
		{Address: near.Addr(), Weight: 1, Priority: 0},
		{Address: far.Addr(), Weight: 1, Priority: 1},
	}
	c.Limits = snapshot.ConnectionLimits{MaxRetries: 1}
	retry := retryPolicy5xx(1, "5xx")
	retry.RetryRemoteLocalities = true
	g := startPolicyGateway(t, oneRouteSnapshot(routeWith("c", func(r *snapshot.Route) { r.Retry = retry }), c),
		Options{Sleep: (&sleeps{}).sleep})

	held := burst(g, 1)
	waitFor(t, "the first retry to reach far", func() bool { return far.Requests() == 1 })
	resp, body := g.send(t, "GET", "/", nil, "")
	if resp.StatusCode != 503 || resp.Header.Get("X-Envoy-Overloaded") != "" || resp.Header.Get(echo.NameHeader) != "near" {
		t.Fatalf("second request: %d %q from %q, want near's own 503", resp.StatusCode, body, resp.Header.Get(echo.NameHeader))
	}
	if l := g.lastLog(t, 1); l["response_flags"] != "UO" || l["upstream_request_attempt_count"] != float64(1) {
		t.Errorf("flags %v after %v attempts, want UO after 1", l["response_flags"], l["upstream_request_attempt_count"])
	}
	far.Release()
	if r := collect(t, held, 1)[0]; r.status != 200 {
		t.Errorf("the retried request: %d, want 200", r.status)
	}
	if far.Requests() != 1 || near.Requests() != 2 {
		t.Errorf("near %d far %d, want 2 and 1", near.Requests(), far.Requests())
	}
}

// maxRequestsPerConnection retires a connection after that many
// requests (Connection: close on the last); 1 disables keep-alive.
func TestMaxRequestsPerConnection(t *testing.T) {
	for _, per := range []uint32{1, 2} {
		b := backend(t, "b")
		var mu sync.Mutex
		conns := map[string]int{}
		b.Observe(func(r *http.Request) {
			mu.Lock()
			conns[r.RemoteAddr]++
			mu.Unlock()
		})
		c := cluster("c", snapshot.LBRoundRobin, b.Addr())
		c.Limits = snapshot.ConnectionLimits{MaxRequestsPerConnection: per}
		g := startPolicyGateway(t, oneRouteSnapshot(routeWith("c", nil), c), Options{})
		const n = 6
		for range n {
			if resp, _ := g.send(t, "GET", "/", nil, ""); resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
		}
		mu.Lock()
		if len(conns) != n/int(per) {
			t.Errorf("maxRequestsPerConnection %d: %d requests used %d connections %v, want %d",
				per, n, len(conns), conns, n/int(per))
		}
		mu.Unlock()
	}
}

// maxConnectionDuration closes a connection once it is that old: an idle
// one at once, so the next request opens a new one.
func TestMaxConnectionDuration(t *testing.T) {
	b := backend(t, "b")
	var mu sync.Mutex
	var addrs []string
	b.Observe(func(r *http.Request) {
		mu.Lock()
		addrs = append(addrs, r.RemoteAddr)
		mu.Unlock()
	})
	c := cluster("c", snapshot.LBRoundRobin, b.Addr())
	c.Limits = snapshot.ConnectionLimits{MaxConnectionDuration: 50 * time.Millisecond}
	g := startPolicyGateway(t, oneRouteSnapshot(routeWith("c", nil), c), Options{})
	g.send(t, "GET", "/", nil, "")
	waitFor(t, "the connection to expire", func() bool { return g.clusterStatus(t, "c").CircuitBreakers.Connections == 0 })
	g.send(t, "GET", "/", nil, "")
	mu.Lock()
	defer mu.Unlock()
	if len(addrs) != 2 || addrs[0] == addrs[1] {
		t.Errorf("requests came from %v, want two connections", addrs)
	}
}

// The TCP proxy's connections count against maxConnections too; at the
// limit the dial is refused with an overflow.
func TestDialClusterMaxConnections(t *testing.T) {
	b := backend(t, "b")
	c := cluster("c", snapshot.LBRoundRobin, b.Addr())
	c.Limits = snapshot.ConnectionLimits{MaxConnections: 1}
	g := startPolicyGateway(t, oneRouteSnapshot(routeWith("c", nil), c), Options{})
	first, _, err := g.srv.DialCluster(context.Background(), "c")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := g.srv.DialCluster(context.Background(), "c"); !errors.Is(err, upstream.ErrOverflow) {
		t.Fatalf("second connection: %v, want overflow", err)
	}
	first.Close()
	second, _, err := g.srv.DialCluster(context.Background(), "c")
	if err != nil {
		t.Fatalf("after the first closed: %v", err)
	}
	second.Close()
	if n := g.clusterStatus(t, "c").CircuitBreakers.Connections; n != 0 {
		t.Errorf("%d connections counted after both closed", n)
	}
}
