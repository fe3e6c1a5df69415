// Package listener owns the gateway's sockets. Open makes the set of bound
// sockets equal to a snapshot's listeners: it opens new sockets before
// closing removed ones, and a socket whose address and kind are unchanged
// is never re-bound, so a reload neither refuses nor drops connections;
// it only receives the new configuration (certificates, chains, routes).
//
// A socket is one of three kinds, from its listener's protocol:
//
//   - HTTP: plain-text HTTP/1.1 and h2c, served by net/http.
//   - TLS (HTTPS and TLS servers): the ClientHello is read without
//     terminating TLS and its SNI chooses a filter chain. A terminating
//     chain completes the handshake (ALPN h2 or http/1.1) and hands the
//     connection to net/http, or to the TCP proxy for non-HTTP TLS; a
//     PASSTHROUGH chain proxies the untouched bytes. HTTPS and
//     PASSTHROUGH servers can thus share a port.
//   - TCP: every connection is proxied (package tcpproxy).
package listener

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshgate/meshgate/internal/dataplane/forwarded"
	"github.com/meshgate/meshgate/internal/dataplane/tcpproxy"
	"github.com/meshgate/meshgate/internal/snapshot"
	"github.com/meshgate/meshgate/internal/telemetry/accesslog"
)

// Server-side HTTP limits. Envoy's defaults where it has one: 60 KiB of
// request headers; the timeouts keep slow or idle clients from holding
// connections forever.
const (
	maxHeaderBytes    = 60 << 10
	readHeaderTimeout = 30 * time.Second
	idleTimeout       = 5 * time.Minute
)

// HandlerFunc returns the handler for the socket at a listen address.
type HandlerFunc func(address string) http.Handler

// Options configure a Manager.
type Options struct {
	// Handler gives each HTTP and TLS socket its request handler.
	Handler HandlerFunc
	// Dialer connects L4 routes to their clusters. Without one, TCP and
	// PASSTHROUGH connections are closed.
	Dialer tcpproxy.Dialer
	// TCPIdleTimeout is the L4 idle timeout (0: tcpproxy's default, 1h).
	TCPIdleTimeout time.Duration
	// AccessLog receives a record per L4 connection; nil disables it.
	AccessLog *accesslog.Logger
	Logger    *slog.Logger
	// Connections, when set, is told of every downstream connection
	// accepted and closed, HTTP or L4, under the listener's name as
	// Envoy names listeners ("0.0.0.0_8080").
	Connections ConnObserver

	// Forwarded says whom HTTP requests trust for the client address,
	// X-Forwarded-Proto and X-Forwarded-Client-Cert; nil is Istio's
	// gateway default (trust only the peer, SANITIZE_SET).
	Forwarded *forwarded.Settings
	// ProxyProtocol, when set, requires a PROXY protocol header on every
	// connection of every listener (Istio's gatewayTopology.proxyProtocol).
	ProxyProtocol *ProxyProtocol
	// ReusePort binds listeners with SO_REUSEPORT, so a new gateway
	// process can bind them while this one drains.
	ReusePort bool
	// Inherited are listening sockets handed over by a previous gateway
	// process, by listen address (see Address). Open serves an address
	// from its inherited socket instead of binding it; the first Open
	// closes the ones it did not use.
	Inherited map[string]net.Listener
}

// ConnObserver counts downstream connections (the metrics recorder).
type ConnObserver interface {
	ConnOpened(listener string)
	ConnClosed(listener string)
}

// StatName is the name of the listener at a listen address in Envoy's
// form, "<ip>_<port>" ("0.0.0.0" for all addresses).
func StatName(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host + "_" + port
}

// Manager keeps one socket per listen address.
type Manager struct {
	opts   Options
	logger *slog.Logger

	mu      sync.Mutex
	sockets map[string]*socket
	// retired are sockets replaced by Open (their kind changed); the next
	// CloseExcept drains them.
	retired []*socket
	// inherited are the Options.Inherited sockets not used yet.
	inherited map[string]net.Listener
	// closing is set by Shutdown: Open binds nothing new afterwards.
	closing bool
	// draining is set by Drain; sockets bound later start draining too.
	draining bool
	// untrustedRedirect is set once an https redirect has answered a
	// request claiming https in an untrusted X-Forwarded-Proto.
	untrustedRedirect atomic.Bool
}

// NewManager returns a Manager.
func NewManager(opts Options) *Manager {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Dialer == nil {
		opts.Dialer = noDialer{}
	}
	inherited := make(map[string]net.Listener, len(opts.Inherited))
	for a, ln := range opts.Inherited {
		inherited[a] = ln
	}
	return &Manager{opts: opts, logger: opts.Logger, sockets: make(map[string]*socket), inherited: inherited}
}

// Address is the address a listener binds: its Bind IP (all addresses
// when empty) and BindPort.
func Address(l *snapshot.Listener) string {
	return net.JoinHostPort(l.Bind, strconv.FormatUint(uint64(l.BindPort), 10))
}

// Open binds every listener in want whose address is not bound yet, and
// gives every bound one its new configuration. A socket whose kind
// changed (HTTP, TLS, TCP) is replaced: the old one stops accepting at
// once and is drained by the next CloseExcept. A filter chain whose
// certificates cannot be loaded is logged and refuses its connections;
// the rest of the listener serves. Open returns the addresses it could not
// bind, joined into one error; the others are serving when it returns.
func (m *Manager) Open(want []*snapshot.Listener) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer m.releaseInherited()
	var errs []error
	for _, l := range want {
		addr := Address(l)
		cfg := m.compile(addr, l)
		k := kindOf(l)
		if s := m.sockets[addr]; s != nil {
			if s.kind == k {
				s.cfg.Store(cfg)
				continue
			}
			if m.closing {
				continue // shutting down: keep the old socket draining
			}
			m.logger.Info("replacing listener", "address", addr, "from", s.kind.String(), "to", k.String())
			s.stopAccepting()
			m.retired = append(m.retired, s)
			delete(m.sockets, addr)
		}
		if m.closing {
			continue
		}
		s, err := m.bind(addr, k, cfg)
		if err != nil {
			errs = append(errs, fmt.Errorf("listen %s: %w", addr, err))
			continue
		}
		m.sockets[addr] = s
		if m.draining {
			s.drainConnections()
		}
		m.logger.Info("listening", "address", s.ln.Addr().String(), "kind", k.String())
		go s.serve()
	}
	return errors.Join(errs...)
}

// releaseInherited closes the inherited sockets the configuration did not
// claim; after the first Open nothing else will.
func (m *Manager) releaseInherited() {
	for a, ln := range m.inherited {
		m.logger.Info("closing an inherited listener the configuration does not use", "address", a)
		_ = ln.Close()
		delete(m.inherited, a)
	}
}

// listen binds addr, or takes over the socket a previous process handed
// over for it.
func (m *Manager) listen(addr string) (net.Listener, error) {
	if ln, ok := m.inherited[addr]; ok {
		delete(m.inherited, addr)
		m.logger.Info("serving a listener handed over by the previous process", "address", addr)
		return ln, nil
	}
	return Listen(addr, m.opts.ReusePort)
}

// compile prepares a listener's configuration, loading its certificates.
func (m *Manager) compile(addr string, l *snapshot.Listener) *socketConfig {
	cfg := &socketConfig{spec: l}
	for _, fc := range l.Chains {
		ch := newChain(fc)
		if ch.err != nil {
			m.logger.Error("TLS filter chain unavailable; its connections are refused",
				"address", addr, "server", fc.Server, "server_names", fc.ServerNames, "error", ch.err)
		}
		cfg.chains = append(cfg.chains, ch)
	}
	if kindOf(l) == kindHTTP {
		cfg.redirects = redirectTable(cfg)
	}
	return cfg
}

func (m *Manager) bind(addr string, k kind, cfg *socketConfig) (*socket, error) {
	ln, err := m.listen(addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &socket{
		addr: addr, kind: k, ln: ln, logger: m.logger, mgr: m,
		ctx: ctx, cancel: cancel, done: make(chan struct{}),
	}
	s.cfg.Store(cfg)
	switch k {
	case kindHTTP:
		s.http = newHTTPServer(s.prepare(s.requireTLS(m.opts.Handler(addr))))
	case kindTLS:
		s.http = newHTTPServer(s.prepare(s.misdirected(m.opts.Handler(addr))))
	}
	if s.http != nil {
		s.handoff = newHandoff(ln.Addr())
		s.http.ConnContext = s.connContext
		s.http.ConnState = s.connState
	}
	if k != kindHTTP {
		s.proxy = tcpproxy.New(tcpproxy.Options{
			Dialer:      m.opts.Dialer,
			IdleTimeout: m.opts.TCPIdleTimeout,
			AccessLog:   m.opts.AccessLog,
			Logger:      m.logger,
		})
	}
	return s, nil
}

// CloseExcept stops accepting on every socket not in keep before it
// returns, so a later Open may bind the same address again at once. The
// returned function waits, bounded by its context, for the connections
// of those sockets, and of sockets Open replaced, to finish, and closes
// the ones still open when the context ends.
func (m *Manager) CloseExcept(keep []string) (drain func(context.Context)) {
	keepSet := make(map[string]bool, len(keep))
	for _, a := range keep {
		keepSet[a] = true
	}
	m.mu.Lock()
	closing := m.retired
	m.retired = nil
	for addr, s := range m.sockets {
		if !keepSet[addr] {
			s.stopAccepting()
			closing = append(closing, s)
			delete(m.sockets, addr)
			m.logger.Info("closing listener", "address", addr)
		}
	}
	m.mu.Unlock()
	return func(ctx context.Context) {
		var wg sync.WaitGroup
		for _, s := range closing {
			wg.Go(func() { s.drain(ctx) })
		}
		wg.Wait()
	}
}

// Shutdown closes every socket and waits for in-flight requests and
// connections, bounded by ctx. Open binds nothing afterwards.
func (m *Manager) Shutdown(ctx context.Context) {
	m.mu.Lock()
	m.closing = true
	m.mu.Unlock()
	m.CloseExcept(nil)(ctx)
}

// StopAccepting closes every listening socket at once and binds no new
// ones; connections already accepted go on until Shutdown. A gateway
// that has handed its sockets to a successor calls it: the successor
// accepts on the same sockets.
func (m *Manager) StopAccepting() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closing = true
	for _, s := range m.sockets {
		s.stopAccepting()
	}
}

// Files returns a duplicate of every listening socket's descriptor, by
// listen address, to hand over to a successor process. The caller closes
// them.
func (m *Manager) Files() (map[string]*os.File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]*os.File, len(m.sockets))
	for a, s := range m.sockets {
		f, err := ListenerFile(s.ln)
		if err != nil {
			for _, f := range out {
				_ = f.Close()
			}
			return nil, fmt.Errorf("listener %s: %w", a, err)
		}
		out[a] = f
	}
	return out, nil
}

// ListenerFile duplicates a TCP listener's descriptor.
func ListenerFile(ln net.Listener) (*os.File, error) {
	fl, ok := ln.(interface{ File() (*os.File, error) })
	if !ok {
		return nil, fmt.Errorf("%T has no descriptor to hand over", ln)
	}
	return fl.File()
}

// Drain starts draining every socket while it keeps accepting: HTTP/1
// responses carry "Connection: close" and idle HTTP/1 connections are
// closed, and HTTP/2 connections get GOAWAY as their streams finish, so
// clients move to other gateways while load balancers still send new
// connections here. L4 connections are left to finish.
func (m *Manager) Drain() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.draining = true
	for _, s := range m.sockets {
		s.drainConnections()
	}
}

// ActiveConnections counts the connections accepted and not yet closed
// on every socket, including sockets being drained after a
// configuration change.
func (m *Manager) ActiveConnections() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for _, s := range m.sockets {
		n += s.active.Load()
	}
	for _, s := range m.retired {
		n += s.active.Load()
	}
	return n
}

// SocketStatus describes one bound socket.
type SocketStatus struct {
	Address string `json:"address"`
	Bound   string `json:"bound"`
	Kind    string `json:"kind"`
	// Active is the number of open connections.
	Active int64 `json:"activeConnections"`
	// Refused counts connections closed by the PROXY protocol policy.
	Refused uint64 `json:"proxyProtocolRefused,omitempty"`
}

// Status lists the bound sockets by address.
func (m *Manager) Status() []SocketStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]SocketStatus, 0, len(m.sockets))
	for a, s := range m.sockets {
		out = append(out, SocketStatus{
			Address: a, Bound: s.ln.Addr().String(), Kind: s.kind.String(),
			Active: s.active.Load(), Refused: s.refused.Load(),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out
}

// Addresses returns the bound listen addresses, as configured, sorted.
func (m *Manager) Addresses() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.sockets))
	for a := range m.sockets {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// BoundAddress returns the address a socket actually bound (useful when
// the configured port is 0), or "" when address is not bound.
func (m *Manager) BoundAddress(address string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.sockets[address]; s != nil {
		return s.ln.Addr().String()
	}
	return ""
}

func newHTTPServer(h http.Handler) *http.Server {
	srv := &http.Server{
		Handler:           h,
		MaxHeaderBytes:    maxHeaderBytes,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		// The data plane logs per request; net/http's own messages
		// (client TLS noise, broken pipes) are not actionable.
		ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelError),
	}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	// HTTP/2 over TLS, negotiated by ALPN on TLS sockets.
	srv.Protocols.SetHTTP2(true)
	// Cleartext HTTP/2 with prior knowledge (h2c), which gRPC clients use
	// against plain-text gateway ports.
	srv.Protocols.SetUnencryptedHTTP2(true)
	return srv
}

// noDialer is the Dialer of a Manager given none.
type noDialer struct{}

func (noDialer) DialCluster(context.Context, string) (net.Conn, string, error) {
	return nil, "", errors.New("no L4 dialer configured")
}
