//go:build unix

package app

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestReloadsThenDrainUnderLoad: 50 clients send continuously while the
// configuration is rewritten 100 times (each version waited for), then
// the gateway is shut down with a drain delay while the clients, like a
// load balancer, stop sending when readiness fails. No request fails:
// reloads never drop a connection, and during the drain the listener
// keeps accepting and answers with "Connection: close".
func TestReloadsThenDrainUnderLoad(t *testing.T) {
	s := newSite(t)
	gw, _ := s.start(t, Topology{DrainDelay: 500 * time.Millisecond})
	lb := startLoad(s.url, s.status, 50, true)
	time.Sleep(200 * time.Millisecond)

	start := gw.Snapshot().Version
	for i := 1; i <= 100; i++ {
		w := 10 + i%80
		writeFile(t, filepath.Join(s.dir, "vs.yaml"), fmt.Sprintf(canaryVS, w, 100-w))
		want := start + uint64(i)
		waitFor(t, func() bool { return gw.Snapshot().Version >= want }, fmt.Sprintf("version %d", want))
	}
	if v := gw.Snapshot().Version; v != start+100 {
		t.Fatalf("version %d after 100 reloads from %d", v, start)
	}
	beforeDrain := lb.ok.Load()
	closedBefore := lb.closed.Load()

	began := time.Now()
	gw.Shutdown()
	took := time.Since(began)
	lb.finish()

	t.Logf("%d requests, %d during the drain (%d with Connection: close); shutdown took %v",
		lb.ok.Load(), lb.ok.Load()-beforeDrain, lb.closed.Load()-closedBefore, took.Round(time.Millisecond))
	if n := lb.failed.Load(); n > 0 {
		t.Fatalf("%d requests failed, e.g. %v", n, lb.errors)
	}
	if lb.closed.Load()-closedBefore == 0 {
		t.Error("no response during the drain told its client to close the connection")
	}
	if lb.healthy.Load() {
		t.Error("the load balancer never saw readiness fail")
	}
}

// TestRestartByHandoverUnderLoad replaces a running gateway by a new one
// on the same ports under continuous load from 50 clients that do not
// health-check: the new gateway takes the listening sockets over through
// the hand-over socket, the old one drains and stops, and no request
// fails. It also checks that a readiness probe never fails during the
// switch.
//
// What it proves: both gateways accept from the same kernel sockets, so
// no connection is reset by a listening socket closing, and the old
// gateway's keep-alive connections end gracefully ("Connection: close"
// on their last response). The one case where a client may see the old
// gateway close an idle keep-alive connection just as it sends a request
// on it is retried by Go's transport because nothing of the response
// arrived (idempotent requests only); the load here is GETs.
func TestRestartByHandoverUnderLoad(t *testing.T) {
	s := newSite(t)
	sock := filepath.Join(t.TempDir(), "handover.sock")
	topo := Topology{DrainDelay: 300 * time.Millisecond, HandoverSocket: sock}
	old, stopOld := s.start(t, topo)
	lb := startLoad(s.url, s.status, 50, false)

	var probesFailed atomic.Int64
	var probeErr atomic.Value
	stopProbes := make(chan struct{})
	probesDone := make(chan struct{})
	go func() {
		defer close(probesDone)
		for {
			select {
			case <-stopProbes:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if code, body := readiness(s.status); code != 200 {
				probesFailed.Add(1)
				probeErr.Store(fmt.Sprintf("%d %s", code, strings.TrimSpace(body)))
			}
		}
	}()
	time.Sleep(300 * time.Millisecond)
	servedByOld := lb.ok.Load()

	// The new process: same configuration, same ports, same hand-over
	// socket. It is ready once it serves the inherited sockets.
	next, _ := s.start(t, topo)
	select {
	case <-old.HandedOver():
	case <-time.After(5 * time.Second):
		t.Fatal("the old gateway was not told it has been replaced")
	}
	stopOld() // what `meshgate serve` does on HandedOver
	if n := old.listeners.ActiveConnections(); n != 0 {
		t.Errorf("the old gateway stopped with %d connections open", n)
	}
	afterOld := lb.ok.Load()
	time.Sleep(300 * time.Millisecond)
	close(stopProbes)
	<-probesDone
	lb.finish()

	t.Logf("%d requests: %d before the new gateway, %d while switching, %d after the old one left",
		lb.ok.Load(), servedByOld, afterOld-servedByOld, lb.ok.Load()-afterOld)
	if n := lb.failed.Load(); n > 0 {
		t.Fatalf("%d requests failed, e.g. %v", n, lb.errors)
	}
	if lb.ok.Load() == afterOld {
		t.Fatal("nothing was served after the old gateway left")
	}
	if n := probesFailed.Load(); n > 0 {
		t.Errorf("%d readiness probes failed during the restart, e.g. %v", n, probeErr.Load())
	}
	if !next.Ready() {
		t.Error("the new gateway is not ready")
	}

	// The new gateway serves the next hand-over on the same path.
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatalf("the new gateway does not serve the hand-over socket: %v", err)
	}
	c.Close()
}

// TestReusePortBindsBesideARunningGateway: with SO_REUSEPORT a second
// gateway binds the ports of a running one (a restart without hand-over).
// Linux then spreads new connections over both; when the old one closes
// its sockets, connections still in its accept queue are reset unless
// net.ipv4.tcp_migrate_req is set, which is why the hand-over exists.
func TestReusePortBindsBesideARunningGateway(t *testing.T) {
	s := newSite(t)
	topo := Topology{ReusePort: true}
	_, stopFirst := s.start(t, topo)
	second, _ := s.start(t, topo)
	if !second.Ready() || second.Status().PublishError != "" {
		t.Fatalf("the second gateway could not bind: %+v", second.Status())
	}
	stopFirst()
	resp, err := newClient().Get(s.url)
	if err != nil {
		t.Fatalf("after the first gateway left: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}
