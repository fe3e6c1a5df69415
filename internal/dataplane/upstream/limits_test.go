package upstream

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/lb"
	"github.com/meshgate/meshgate/internal/snapshot"
)

func buildSet(t *testing.T, r *Registry, clusters ...*snapshot.Cluster) *Set {
	t.Helper()
	snap := &snapshot.Snapshot{Clusters: clusters}
	snap.Seal()
	return r.Build(snap, lb.Options{})
}

// Clusters with equal settings share a transport; a cluster that counts
// or retires its connections gets its own, and its pool settings reach
// the transport.
func TestTransportsPerCluster(t *testing.T) {
	r := NewRegistry(nil)
	mk := func(name string, l snapshot.ConnectionLimits) *snapshot.Cluster {
		return &snapshot.Cluster{Name: name, UpstreamProtocol: snapshot.UpstreamHTTP1, Limits: l,
			Endpoints: []snapshot.Endpoint{{Address: "127.0.0.1:1", Weight: 1}}}
	}
	set := buildSet(t, r,
		mk("a", snapshot.ConnectionLimits{IdleTimeout: time.Hour}),
		mk("b", snapshot.ConnectionLimits{IdleTimeout: time.Hour}),
		mk("c", snapshot.ConnectionLimits{IdleTimeout: time.Hour, MaxConnections: 1}),
		mk("d", snapshot.ConnectionLimits{IdleTimeout: time.Hour, MaxConnections: 1}),
		mk("e", snapshot.ConnectionLimits{IdleTimeout: 5 * time.Second, MaxRequests: 3}),
	)
	// The pool a cluster sends through, whichever client runs it.
	tr := func(name string) http.RoundTripper { return set.Cluster(name).Transport }
	if tr("a") != tr("b") {
		t.Error("equal settings: want one shared transport")
	}
	if tr("c") == tr("d") || tr("c") == tr("a") {
		t.Error("maxConnections: want a transport per cluster")
	}
	if tr("e") == tr("a") {
		t.Error("another idle timeout: want another transport")
	}
	if got := r.transports[set.Cluster("e").key].(*http.Transport).IdleConnTimeout; got != 5*time.Second {
		t.Errorf("idle timeout %v, want 5s", got)
	}
	// A rebuild with the same settings keeps the pools.
	again := buildSet(t, r, mk("c", snapshot.ConnectionLimits{IdleTimeout: time.Hour, MaxConnections: 1}))
	if again.Cluster("c").Transport != tr("c") {
		t.Error("reload: want the cluster's transport kept")
	}
}

func TestTCPKeepaliveSettings(t *testing.T) {
	r := NewRegistry(nil)
	k := transportKeyOf(&snapshot.Cluster{Name: "a", Limits: snapshot.ConnectionLimits{
		TCPKeepalive: &snapshot.TCPKeepalive{Probes: 3, Time: time.Minute},
	}})
	if !k.keepalive.set || k.cluster != "" {
		t.Fatalf("key %+v: want keep-alive set and a shared transport", k)
	}
	if r.dialer(k) == nil {
		t.Fatal("no dialer")
	}
	if orOSDefault(0) != -1 || orOSDefault(time.Second) != time.Second {
		t.Error("unset keep-alive fields must keep the OS defaults")
	}
}

// The slot pool hands a freed slot to the longest waiter and overflows
// past the pending limit.
func TestSlotPool(t *testing.T) {
	var p slotPool
	ctx := context.Background()
	if err := p.acquire(ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	got := make(chan int, 2)
	for i := range 2 {
		go func() {
			if err := p.acquire(ctx, 1, 2); err == nil {
				got <- i
			}
		}()
		for p.pending() != i+1 {
			time.Sleep(time.Millisecond)
		}
	}
	if err := p.acquire(ctx, 1, 2); !errors.Is(err, ErrOverflow) {
		t.Fatalf("third waiter: %v, want overflow", err)
	}
	p.release(1)
	if first := <-got; first != 0 {
		t.Errorf("waiter %d went first, want 0", first)
	}
	p.release(1)
	<-got
	p.release(1)
	if p.active != 0 || p.pending() != 0 {
		t.Errorf("active %d pending %d after all released", p.active, p.pending())
	}

	// A waiter whose request ends leaves the line.
	_ = p.acquire(ctx, 1, 0)
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- p.acquire(cctx, 1, 0) }()
	for p.pending() != 1 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || p.pending() != 0 {
		t.Errorf("cancelled waiter: %v, pending %d", err, p.pending())
	}
}

// The connection limiter waits at the limit, except for an endpoint with
// no connection yet (Envoy's exception).
func TestConnLimiter(t *testing.T) {
	var l connLimiter
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := l.acquire(ctx, 1, "a"); err != nil {
		t.Fatal(err)
	}
	if err := l.acquire(ctx, 1, "b"); err != nil {
		t.Fatalf("first connection to another endpoint: %v, want allowed", err)
	}
	if err := l.acquire(ctx, 1, "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second connection to a at the limit: %v, want to wait", err)
	}
	done := make(chan error)
	go func() { done <- l.acquire(context.Background(), 2, "a") }()
	l.release("b")
	if err := <-done; err != nil || l.count() != 2 {
		t.Errorf("after a close: %v with %d open, want a slot", err, l.count())
	}
}
