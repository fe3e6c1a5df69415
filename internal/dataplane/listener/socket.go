package listener

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshgate/meshgate/internal/dataplane/forwarded"
	"github.com/meshgate/meshgate/internal/dataplane/router"
	"github.com/meshgate/meshgate/internal/dataplane/tcpproxy"
	"github.com/meshgate/meshgate/internal/snapshot"
)

// kind is what a socket speaks. A socket serves one kind for its whole
// life; a configuration that changes the kind at an address replaces the
// socket.
type kind int

const (
	// kindHTTP: plain-text HTTP/1.1 and h2c.
	kindHTTP kind = iota
	// kindTLS: the ClientHello is read first and its SNI chooses a filter
	// chain, which terminates TLS (HTTP, or TCP inside) or passes the
	// connection through.
	kindTLS
	// kindTCP: every connection is proxied as is.
	kindTCP
)

func (k kind) String() string {
	switch k {
	case kindTLS:
		return "tls"
	case kindTCP:
		return "tcp"
	}
	return "http"
}

func kindOf(l *snapshot.Listener) kind {
	switch l.Protocol {
	case snapshot.ProtocolHTTPS, snapshot.ProtocolTLS:
		return kindTLS
	case snapshot.ProtocolTCP:
		return kindTCP
	}
	return kindHTTP
}

// Timeouts of the steps before a TLS connection is served.
const (
	// helloTimeout bounds reading the ClientHello (Envoy's
	// listener_filters_timeout is 15s).
	helloTimeout = 15 * time.Second
	// handshakeTimeout bounds the TLS handshake after it.
	handshakeTimeout = 10 * time.Second
)

// socketConfig is what a socket serves, compiled from one snapshot
// listener. Sockets swap it atomically on every Open, so certificates
// and routes change without re-binding.
type socketConfig struct {
	spec   *snapshot.Listener
	chains []*chain
	// redirects finds virtual hosts that require TLS; nil when none does.
	redirects *router.Table
}

// choose returns the chain for a connection with SNI sni (see
// tcpproxy.MatchSNI). A connection without SNI that no "*" chain takes
// gets the first chain, the oldest server's: Envoy would close it, but a
// client that connects by address is better served by a certificate it
// can inspect than by a reset.
func (c *socketConfig) choose(sni string) *chain {
	var best *chain
	bestScore := tcpproxy.NoMatch
	for _, ch := range c.chains {
		if s := tcpproxy.MatchSNI(ch.spec.ServerNames, sni); s > bestScore {
			best, bestScore = ch, s
		}
	}
	if best == nil && sni == "" && len(c.chains) > 0 {
		return c.chains[0]
	}
	return best
}

// socket is one bound address.
type socket struct {
	addr   string
	kind   kind
	ln     net.Listener
	logger *slog.Logger
	cfg    atomic.Pointer[socketConfig]
	mgr    *Manager

	// http serves HTTP and TLS sockets, fed through handoff: the accept
	// loop reads the PROXY header and, for TLS, the ClientHello and the
	// handshake, before net/http sees the connection.
	http    *http.Server
	handoff *handoff
	// facts holds each connection's forwarding facts from hand-off until
	// http.Server's ConnContext puts them into the connection's context.
	facts sync.Map
	// proxy serves the L4 connections of TLS and TCP sockets.
	proxy *tcpproxy.Proxy
	// pending counts connections between accept and hand-off (reading the
	// PROXY header and ClientHello, handshaking, until net/http tracks
	// them); ctx aborts them when a drain runs out of time.
	pending sync.WaitGroup
	ctx     context.Context
	cancel  context.CancelFunc
	// done is closed when the accept loop has ended.
	done chan struct{}
	// active counts accepted connections not yet closed; refused counts
	// connections the PROXY protocol policy closed.
	active  atomic.Int64
	refused atomic.Uint64
}

func (s *socket) config() *socketConfig { return s.cfg.Load() }

// serve runs the accept loop until the listener is closed.
func (s *socket) serve() {
	defer close(s.done)
	if s.http != nil {
		go func() { _ = s.http.Serve(s.handoff) }()
	}
	if err := s.acceptLoop(s.handle); err != nil {
		s.logger.Error("listener stopped", "address", s.addr, "error", err)
	}
}

// handle takes one accepted connection through the PROXY protocol, then
// to what the socket serves.
func (s *socket) handle(raw net.Conn) {
	c, facts, ok := s.admit(raw)
	if !ok {
		s.pending.Done()
		return
	}
	switch s.kind {
	case kindHTTP:
		s.pushHTTP(c, facts)
	case kindTLS:
		s.serveTLS(c, facts)
	case kindTCP:
		s.serveTCP(c)
	}
}

// admit reads the connection's PROXY header when the listeners require
// one, and returns the connection to serve with its forwarding facts.
func (s *socket) admit(raw net.Conn) (net.Conn, *forwarded.Conn, bool) {
	peer := addrPort(raw.RemoteAddr())
	facts := &forwarded.Conn{Peer: peer, Socket: peer, Settings: s.mgr.opts.Forwarded}
	pp := s.mgr.opts.ProxyProtocol
	if pp == nil {
		return raw, facts, true
	}
	// A drain that runs out of time cancels s.ctx: fail the header read.
	stop := context.AfterFunc(s.ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	a, err := pp.admit(raw)
	stop()
	if err != nil {
		s.refused.Add(1)
		s.logger.Debug("connection closed by the PROXY protocol policy", "address", s.addr, "error", err)
		_ = raw.Close()
		return nil, nil, false
	}
	if a.proxied {
		facts.Peer, facts.ProxyProtocol = a.source, true
	}
	return a.conn, facts, true
}

// pushHTTP hands a connection to the HTTP server. Its pending count ends
// when net/http has started tracking it (ConnState StateNew), so a drain
// that waits for pending connections and then shuts the server down
// cannot miss it.
func (s *socket) pushHTTP(c net.Conn, facts *forwarded.Conn) {
	s.facts.Store(c, facts)
	if !s.handoff.push(s.ctx, c) {
		s.facts.Delete(c)
		s.pending.Done()
	}
}

// connContext gives every request of a connection its forwarding facts.
func (s *socket) connContext(ctx context.Context, c net.Conn) context.Context {
	if f, ok := s.facts.LoadAndDelete(c); ok {
		return forwarded.WithConn(ctx, f.(*forwarded.Conn))
	}
	return ctx
}

func (s *socket) connState(_ net.Conn, st http.ConnState) {
	if st == http.StateNew {
		s.pending.Done()
	}
}

// acceptLoop accepts until the listener is closed, retrying temporary
// errors (such as running out of file descriptors) after a pause, as
// net/http does.
func (s *socket) acceptLoop(handle func(net.Conn)) error {
	var delay time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.logger.Warn("accept failed; retrying", "address", s.addr, "error", err, "retry_in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		s.pending.Add(1)
		s.active.Add(1)
		release := func() { s.active.Add(-1) }
		if obs := s.mgr.opts.Connections; obs != nil {
			name := StatName(s.addr)
			obs.ConnOpened(name)
			release = func() {
				s.active.Add(-1)
				obs.ConnClosed(name)
			}
		}
		go handle(&trackedConn{Conn: c, release: release})
	}
}

// serveTCP proxies a connection of a TCP socket with its only chain.
func (s *socket) serveTCP(c net.Conn) {
	var routes []*snapshot.L4Route
	if chains := s.config().chains; len(chains) > 0 {
		routes = chains[0].spec.Routes
	}
	s.proxy.Handle(s.ctx, tcpproxy.Conn{Client: c, Routes: routes, Protocol: "tcp", Admitted: s.pending.Done})
}

// serveTLS routes a connection of a TLS socket by the SNI of its
// ClientHello: through untouched (PASSTHROUGH), or terminated and handed
// to the HTTP server or the TCP proxy.
func (s *socket) serveTLS(raw net.Conn, facts *forwarded.Conn) {
	handedOff := false
	defer func() {
		if !handedOff {
			s.pending.Done()
		}
	}()
	// A drain that runs out of time cancels s.ctx: fail the reads of
	// connections still before their hand-off at once.
	stop := context.AfterFunc(s.ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	_ = raw.SetReadDeadline(time.Now().Add(helloTimeout))
	hello, prefix, err := tcpproxy.ReadClientHello(raw)
	if err != nil {
		s.logger.Debug("no TLS ClientHello; connection closed", "address", s.addr, "remote", raw.RemoteAddr().String(), "error", err)
		_ = raw.Close()
		return
	}
	_ = raw.SetReadDeadline(time.Time{})
	ch := s.config().choose(hello.ServerName)
	switch {
	case ch == nil:
		s.logger.Debug("no filter chain for the SNI; connection closed", "address", s.addr, "sni", hello.ServerName)
		_ = raw.Close()
		return
	case ch.err != nil:
		s.logger.Debug("filter chain unavailable; connection closed", "address", s.addr, "sni", hello.ServerName,
			"server", ch.spec.Server, "error", ch.err)
		_ = raw.Close()
		return
	}
	conn := tcpproxy.Replay(raw, prefix)
	if ch.tls == nil {
		handedOff = true
		s.proxy.Handle(s.ctx, tcpproxy.Conn{
			Client: conn, Routes: ch.spec.Routes, SNI: hello.ServerName, Protocol: "tls", Admitted: s.pending.Done,
		})
		return
	}
	tc := tls.Server(conn, ch.tls)
	ctx, cancel := context.WithTimeout(s.ctx, handshakeTimeout)
	err = tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		s.logger.Debug("TLS handshake failed", "address", s.addr, "sni", hello.ServerName, "server", ch.spec.Server, "error", err)
		_ = tc.Close()
		return
	}
	if ch.spec.HTTP {
		handedOff = true
		f := *facts
		f.LocalURIs = ch.localURIs
		s.pushHTTP(tc, &f)
		return
	}
	handedOff = true
	s.proxy.Handle(s.ctx, tcpproxy.Conn{
		Client: tc, Routes: ch.spec.Routes, SNI: hello.ServerName, Protocol: "tcp", Admitted: s.pending.Done,
	})
}

// drainConnections makes HTTP responses carry "Connection: close" (and
// HTTP/2 connections send GOAWAY when idle) from now on, and closes idle
// HTTP/1 connections.
func (s *socket) drainConnections() {
	if s.http != nil {
		s.http.SetKeepAlivesEnabled(false)
	}
}

// stopAccepting closes the listening socket; connections already
// accepted go on.
func (s *socket) stopAccepting() { _ = s.ln.Close() }

// drain waits, bounded by ctx, for the socket's connections to finish,
// then closes what is left.
func (s *socket) drain(ctx context.Context) {
	<-s.done
	// Connections accepted but not yet handed on must reach the HTTP
	// server or the proxy before those are shut down.
	pending := make(chan struct{})
	go func() { s.pending.Wait(); close(pending) }()
	select {
	case <-pending:
	case <-ctx.Done():
		s.cancel() // abort PROXY header reads and handshakes still running
		<-pending
	}
	var wg sync.WaitGroup
	if s.http != nil {
		wg.Go(func() {
			if err := s.http.Shutdown(ctx); err != nil {
				_ = s.http.Close()
			}
			if s.handoff != nil {
				_ = s.handoff.Close()
			}
		})
	}
	if s.proxy != nil {
		wg.Go(func() { s.proxy.Shutdown(ctx) })
	}
	wg.Wait()
	s.cancel()
}
