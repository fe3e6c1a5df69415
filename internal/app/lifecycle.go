package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshgate/meshgate/internal/dataplane/forwarded"
	"github.com/meshgate/meshgate/internal/dataplane/listener"
)

// Topology is where the gateway stands behind load balancers and how it
// leaves: Istio's gatewayTopology and drain settings, and meshgate's
// additions. The zero value trusts only the peer, takes no PROXY headers
// and stops without a drain delay.
type Topology struct {
	// Forwarded is the client-address, X-Forwarded-* and XFCC policy.
	Forwarded forwarded.Settings
	// ProxyProtocol, when set, requires a PROXY header on every listener.
	ProxyProtocol *listener.ProxyProtocol

	// DrainDelay is how long, after shutdown begins, readiness fails and
	// listeners keep accepting while telling clients to go ("Connection:
	// close", GOAWAY), so that load balancers notice before the sockets
	// close. Istio: terminationDrainDuration, default 5s.
	DrainDelay time.Duration
	// DrainUntilIdle then waits until no connection is active, polling
	// every DrainPollInterval (default 1s, as Istio's agent does) and
	// bounded by ShutdownTimeout: Istio's EXIT_ON_ZERO_ACTIVE_CONNECTIONS,
	// whose MINIMUM_DRAIN_DURATION is DrainDelay.
	DrainUntilIdle    bool
	DrainPollInterval time.Duration

	// ReusePort binds every port (listeners, admin, status) with
	// SO_REUSEPORT, so a new gateway process can bind them while this one
	// drains.
	ReusePort bool
	// HandoverSocket is a unix socket path through which a new gateway
	// process takes this one's listening sockets over, and this one then
	// drains and exits: a restart that drops no connection (handover.go).
	HandoverSocket string
}

// lifecycle is the shutdown and hand-over state of a Gateway.
type lifecycle struct {
	shutdownOnce sync.Once
	// drainStart is when shutdown began (unix nanoseconds), 0 before.
	drainStart atomic.Int64
	// handedOver is closed when a successor has taken the sockets over.
	handedOver     chan struct{}
	handedOverOnce sync.Once
	// handover serves successors; nil when not listening.
	handoverMu sync.Mutex
	handover   *net.UnixListener
	// inherited are the admin and status sockets a predecessor handed
	// over, by "admin:" or "status:" and address; predecessor is the
	// process they came from, told when this one is ready.
	inherited   map[string]net.Listener
	predecessor *predecessor
}

// HandedOver is closed when a new gateway process has taken over this
// one's sockets; the caller should then Shutdown.
func (g *Gateway) HandedOver() <-chan struct{} { return g.lc.handedOver }

// Shutdown stops the gateway gracefully, as Istio's agent stops a gateway
// on SIGTERM:
//
//  1. readiness fails at once, so load balancers stop sending;
//  2. every connection is told to go (HTTP/1 responses carry
//     "Connection: close", idle HTTP/1 connections close, HTTP/2
//     connections get GOAWAY) while the listeners keep accepting for
//     DrainDelay, since load balancers take seconds to notice;
//  3. with DrainUntilIdle, the gateway then waits for active
//     connections to reach zero, bounded by ShutdownTimeout;
//  4. the listeners close and requests in flight finish, bounded by
//     ShutdownTimeout; what is left is closed.
//
// After a hand-over the listening sockets belong to the successor: this
// gateway stops accepting at once and only lets its own connections
// finish. Shutdown may be called more than once; later calls wait for the
// first. The caller cancels the context given to Start before or after.
func (g *Gateway) Shutdown() {
	g.lc.shutdownOnce.Do(g.shutdown)
}

func (g *Gateway) shutdown() {
	start := time.Now()
	g.stopHandover()
	handedOver := isClosed(g.lc.handedOver)
	if handedOver {
		// The successor accepts on the same sockets: stop competing for
		// new connections, and leave the status and admin ports to it
		// before readiness fails here, so no probe sees this process
		// leave.
		g.listeners.StopAccepting()
		g.stopServing()
	}
	g.stopping.Store(true)
	g.lc.drainStart.Store(start.UnixNano())
	g.listeners.Drain()
	g.logger.Info("draining", "delay", g.opts.Topology.DrainDelay, "until_idle", g.opts.Topology.DrainUntilIdle,
		"active_connections", g.listeners.ActiveConnections(), "handed_over", handedOver)

	deadline := g.waitDrain(start)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	g.listeners.Shutdown(ctx)
	g.data.Close()
	g.closeServers(ctx)
	_ = g.accessLog.Close()
	if g.livePage != nil {
		g.livePage.Close()
	}
	// The drain deadline may have passed; the last spans get a moment.
	spanCtx, spanCancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer spanCancel()
	if err := g.tracer.Shutdown(spanCtx); err != nil {
		g.logger.Warn("exporting the last spans failed", "error", err)
	}
	g.logger.Info("stopped", "after", time.Since(start).Round(time.Millisecond),
		"connections_left", g.listeners.ActiveConnections())
}

// waitDrain sleeps through the drain delay and, in until-idle mode, until
// no connection is active. It returns the deadline for the requests still
// in flight.
func (g *Gateway) waitDrain(start time.Time) time.Time {
	t := g.opts.Topology
	time.Sleep(time.Until(start.Add(t.DrainDelay)))
	deadline := time.Now().Add(g.opts.ShutdownTimeout)
	if !t.DrainUntilIdle {
		return deadline
	}
	poll := t.DrainPollInterval
	if poll <= 0 {
		poll = time.Second
	}
	for {
		n := g.listeners.ActiveConnections()
		if n == 0 {
			g.logger.Info("no active connections left", "after", time.Since(start).Round(time.Millisecond))
			break
		}
		if !time.Now().Add(poll).Before(deadline) {
			g.logger.Warn("active connections remain at the drain deadline", "active_connections", n)
			break
		}
		time.Sleep(poll)
	}
	// The in-flight requests get what is left of the budget, and at least
	// a moment to finish the responses being written.
	return later(deadline, time.Now().Add(time.Second))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// ReadinessState is Envoy's server state as /ready reports it: LIVE,
// PRE_INITIALIZING before the first configuration serves, DRAINING once
// shutdown has begun.
func (g *Gateway) ReadinessState() string {
	switch {
	case g.stopping.Load() && !g.handedOverReady():
		return "DRAINING"
	case g.Ready():
		return "LIVE"
	}
	return "PRE_INITIALIZING"
}

// handedOverReady reports a gateway whose sockets a ready successor has
// taken over: the few status requests it still answers speak for the
// port, which is ready.
func (g *Gateway) handedOverReady() bool { return isClosed(g.lc.handedOver) }

// lifecycleDetails are the readiness details about configuration,
// listeners and drain, one line each.
func (g *Gateway) lifecycleDetails() []string {
	var out []string
	if ns := g.lc.drainStart.Load(); ns != 0 {
		out = append(out, fmt.Sprintf("draining for %s, %d active connections",
			time.Since(time.Unix(0, ns)).Round(time.Millisecond), g.listeners.ActiveConnections()))
	}
	st := g.pipe.Status()
	switch {
	case st.Version == 0 && st.Rejected:
		out = append(out, "configuration rejected; nothing is serving yet (see /diagnostics on the admin port)")
	case st.Version == 0:
		out = append(out, "waiting for the first configuration")
	default:
		out = append(out, fmt.Sprintf("configuration version %d, applied %s", st.Version, st.AppliedAt.UTC().Format(time.RFC3339)))
	}
	if st.PublishError != "" {
		out = append(out, "not every listener is serving: "+st.PublishError)
	}
	for _, s := range g.listeners.Status() {
		line := fmt.Sprintf("listener %s (%s) bound to %s, %d active connections", s.Address, s.Kind, s.Bound, s.Active)
		if s.Refused > 0 {
			line += fmt.Sprintf(", %d refused by the PROXY protocol policy", s.Refused)
		}
		out = append(out, line)
	}
	if g.listeners.UntrustedHTTPSRedirects() {
		out = append(out, "warning: httpsRedirect has redirected requests whose X-Forwarded-Proto: https came from an "+
			"untrusted hop; behind a TLS-terminating load balancer set gatewayTopology.numTrustedProxies")
	}
	return out
}

// listen binds an admin or status address: the socket a predecessor
// handed over for it, or a new one.
func (g *Gateway) listen(kind, addr string) (ln net.Listener, inherited bool, err error) {
	if ln, ok := g.lc.inherited[kind+":"+addr]; ok {
		delete(g.lc.inherited, kind+":"+addr)
		return ln, true, nil
	}
	ln, err = listener.Listen(addr, g.opts.Topology.ReusePort)
	return ln, false, err
}

// serveWhenReady serves srv on ln once the gateway is ready. A socket
// handed over by a predecessor is still served by it until then, and a
// probe must not reach a successor that would answer "not ready".
func (g *Gateway) serveWhenReady(ctx context.Context, srv *http.Server, ln net.Listener) {
	go func() {
		if err := g.WaitReady(ctx); err != nil {
			_ = ln.Close()
			return
		}
		_ = srv.Serve(ln)
	}()
}

// stopServing stops the admin and status servers from accepting and
// from keeping connections: a successor serves those ports on the same
// sockets. Requests already read still get their answer. (Not
// http.Server.Shutdown: it drops, unanswered, a request read after it
// began, on a connection the client just opened.)
func (g *Gateway) stopServing() {
	for _, ln := range []net.Listener{g.adminLn, g.statusLn} {
		if ln != nil {
			_ = ln.Close()
		}
	}
	for _, srv := range g.servers {
		srv.SetKeepAlivesEnabled(false)
	}
}
