package tcpproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/echo"
	"github.com/meshgate/meshgate/internal/snapshot"
	"github.com/meshgate/meshgate/internal/telemetry/accesslog"
)

// echoBackend starts a TCP echo backend (echo.ServeTCP): it echoes until
// EOF, then writes "|name" and half-closes.
func echoBackend(t *testing.T, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go echo.ServeTCP(ln, name)
	return ln.Addr().String()
}

// gateway runs p behind a listener, handing each connection the routes.
func gateway(t *testing.T, p *Proxy, routes []*snapshot.L4Route) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		p.Shutdown(ctx)
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { p.Handle(context.Background(), Conn{Client: c, Routes: routes, Protocol: "tcp"}) })
		}
	})
	return ln.Addr().String()
}

func snapshotWith(clusters ...*snapshot.Cluster) func() *snapshot.Snapshot {
	s := &snapshot.Snapshot{Clusters: clusters}
	s.Seal()
	return func() *snapshot.Snapshot { return s }
}

func cluster(name string, addrs ...string) *snapshot.Cluster {
	c := &snapshot.Cluster{Name: name}
	for _, a := range addrs {
		c.Endpoints = append(c.Endpoints, snapshot.Endpoint{Address: a, Weight: 1})
	}
	return c
}

func route(clusters ...string) []*snapshot.L4Route {
	r := &snapshot.L4Route{Name: "r"}
	for _, c := range clusters {
		r.Destinations = append(r.Destinations, snapshot.WeightedCluster{Cluster: c, Weight: 1})
	}
	return []*snapshot.L4Route{r}
}

// exchange sends msg, half-closes and returns everything read until EOF.
func exchange(t *testing.T, addr, msg string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	_ = c.(*net.TCPConn).CloseWrite()
	out, err := io.ReadAll(c)
	// A connection the gateway closes without reading what was sent is
	// reset rather than ended; both mean closed.
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read: %v", err)
	}
	return string(out)
}

// accessLog collects access-log records as JSON lines.
type accessLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (a *accessLog) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.buf.Write(p)
}

func (a *accessLog) records(t *testing.T) []map[string]any {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(a.buf.String()), "\n") {
		if line == "" {
			continue
		}
		m := map[string]any{}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestProxyHalfCloseAndRoundRobin(t *testing.T) {
	a, b := echoBackend(t, "a"), echoBackend(t, "b")
	var log accessLog
	p := New(Options{
		Dialer:    &EndpointDialer{Snapshot: snapshotWith(cluster("c", a, b))},
		AccessLog: jsonAccessLog(t, &log),
	})
	addr := gateway(t, p, route("c"))
	got := []string{exchange(t, addr, "ping"), exchange(t, addr, "pong")}
	want := []string{"ping|a", "pong|b"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("exchange %d = %q, want %q", i, got[i], want[i])
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for len(log.records(t)) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	recs := log.records(t)
	if len(recs) != 2 {
		t.Fatalf("got %d access-log records, want 2", len(recs))
	}
	// The two connections end close together, so either may log first.
	hosts := map[any]bool{}
	for _, rec := range recs {
		hosts[rec["upstream_host"]] = true
		if rec["upstream_cluster"] != "c" || rec["bytes_received"] != 4.0 || rec["bytes_sent"] != 6.0 ||
			rec["protocol"] != "tcp" || rec["route_name"] != "r" {
			t.Errorf("record = %v", rec)
		}
	}
	if !hosts[a] || !hosts[b] {
		t.Errorf("upstream hosts %v, want %s and %s", hosts, a, b)
	}
}

// fixedRand returns the values given, in turn.
type fixedRand struct {
	mu   sync.Mutex
	vals []uint64
}

func (r *fixedRand) Uint64() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := r.vals[0]
	r.vals = r.vals[1:]
	return v
}

func (r *fixedRand) IntN(n int) int { return int(r.Uint64() % uint64(n)) }

func TestProxyWeightedDestinations(t *testing.T) {
	a, b := echoBackend(t, "a"), echoBackend(t, "b")
	p := New(Options{
		Dialer: &EndpointDialer{Snapshot: snapshotWith(cluster("ca", a), cluster("cb", b))},
		// 80/20: draws below 80 pick ca, the rest cb.
		Rand: &fixedRand{vals: []uint64{79, 80, 99, 0}},
	})
	routes := []*snapshot.L4Route{{Name: "split", Destinations: []snapshot.WeightedCluster{
		{Cluster: "ca", Weight: 80}, {Cluster: "cb", Weight: 20},
	}}}
	addr := gateway(t, p, routes)
	var got []string
	for range 4 {
		got = append(got, exchange(t, addr, "x"))
	}
	if want := []string{"x|a", "x|b", "x|b", "x|a"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestProxyClosesWhatItCannotServe(t *testing.T) {
	refused := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return addr
	}()
	unhealthy := cluster("sick", echoBackend(t, "a"))
	unhealthy.Endpoints[0].Health = snapshot.Unhealthy
	tests := []struct {
		name     string
		routes   []*snapshot.L4Route
		wantFlag string
	}{
		{"no route", nil, "NR"},
		{"unknown cluster", route("missing"), "NC"},
		{"no healthy endpoint", route("sick"), "UH"},
		{"connection refused", route("down"), "UF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log accessLog
			p := New(Options{
				Dialer:    &EndpointDialer{Snapshot: snapshotWith(cluster("down", refused), unhealthy)},
				AccessLog: jsonAccessLog(t, &log),
			})
			addr := gateway(t, p, tt.routes)
			if got := exchange(t, addr, "x"); got != "" {
				t.Errorf("got %q, want the connection closed", got)
			}
			deadline := time.Now().Add(2 * time.Second)
			for len(log.records(t)) == 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if recs := log.records(t); len(recs) != 1 || recs[0]["response_flags"] != tt.wantFlag {
				t.Errorf("records = %v, want one with flag %s", recs, tt.wantFlag)
			}
		})
	}
}

func TestProxyIdleTimeout(t *testing.T) {
	backend := echoBackend(t, "a")
	p := New(Options{Dialer: &EndpointDialer{Snapshot: snapshotWith(cluster("c", backend))}, IdleTimeout: time.Second})
	addr := gateway(t, p, route("c"))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	// Traffic keeps the connection open past the timeout (a tenth of it
	// apart, so a loaded machine cannot stretch a gap past it)...
	buf := make([]byte, 2)
	for range 15 {
		time.Sleep(100 * time.Millisecond)
		if _, err := io.WriteString(c, "hi"); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatalf("connection closed while active: %v", err)
		}
	}
	// ...and silence closes it.
	start := time.Now()
	if _, err := c.Read(buf); err == nil {
		t.Fatal("read succeeded on an idle connection")
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("idle connection closed after %v", waited)
	}
}

func TestProxyShutdown(t *testing.T) {
	backend := echoBackend(t, "a")
	p := New(Options{Dialer: &EndpointDialer{Snapshot: snapshotWith(cluster("c", backend))}})
	addr := gateway(t, p, route("c"))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "hi"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}

	// Graceful: Shutdown waits while the connection is open...
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() { p.Shutdown(ctx); close(done) }()
	select {
	case <-done:
		t.Fatal("Shutdown returned with a connection open")
	case <-time.After(100 * time.Millisecond):
	}
	if _, err := io.WriteString(c, "hi"); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("the connection stopped working during the drain: %v", err)
	}
	// ...until its context ends; then it closes what is left.
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("Shutdown did not return after its context ended")
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(buf); err == nil {
		t.Error("the connection is still open after Shutdown")
	}
	if n := p.Active(); n != 0 {
		t.Errorf("Active = %d after Shutdown", n)
	}
	// New connections are refused.
	if got := exchange(t, addr, "x"); got != "" {
		t.Errorf("got %q after Shutdown", got)
	}
}

// jsonAccessLog is an access log in Istio's JSON format, every record,
// flushed every millisecond into w.
func jsonAccessLog(t testing.TB, w io.Writer) *accesslog.Logger {
	lg := accesslog.New(w, accesslog.Options{Format: accesslog.JSON, SamplePercent: 100, FlushInterval: time.Millisecond})
	t.Cleanup(func() { _ = lg.Close() })
	return lg
}
