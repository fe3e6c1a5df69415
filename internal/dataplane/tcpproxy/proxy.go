// Package tcpproxy is the gateway's L4 data plane: it proxies whole
// connections for TCP servers, TLS PASSTHROUGH servers (routed by the SNI
// of the ClientHello, which it reads without terminating TLS) and TLS
// servers that terminate non-HTTP TLS. It chooses a route, picks a
// destination by weight, dials an endpoint of that cluster through a
// Dialer and copies bytes both ways, with half-close and an idle timeout.
package tcpproxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshgate/meshgate/internal/lb"
	"github.com/meshgate/meshgate/internal/snapshot"
	"github.com/meshgate/meshgate/internal/telemetry/accesslog"
)

// Dialer connects to an endpoint of a cluster. It returns the connection
// and the endpoint address it reached. It wraps ErrNoCluster or
// ErrNoHealthyUpstream when there was nothing to dial; any other error is
// a connection failure.
type Dialer interface {
	DialCluster(ctx context.Context, cluster string) (conn net.Conn, endpoint string, err error)
}

// Errors a Dialer wraps to say why it dialed nothing.
var (
	ErrNoCluster         = errors.New("no such cluster")
	ErrNoHealthyUpstream = errors.New("no healthy upstream")
)

// Defaults, as Istio configures Envoy's tcp_proxy.
const (
	// DefaultIdleTimeout is Envoy's tcp_proxy idle_timeout, which Istio
	// leaves at one hour.
	DefaultIdleTimeout = time.Hour
	// DefaultConnectTimeout is Istio's mesh connectTimeout.
	DefaultConnectTimeout = 10 * time.Second
)

// Options configure a Proxy.
type Options struct {
	Dialer Dialer
	// IdleTimeout closes a connection after this long without a byte in
	// either direction; 0 means DefaultIdleTimeout, negative disables it.
	IdleTimeout time.Duration
	// ConnectTimeout bounds each dial; 0 means DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// AccessLog receives one record per connection; nil disables it.
	AccessLog *accesslog.Logger
	Logger    *slog.Logger
	// Rand makes weighted choices deterministic in tests.
	Rand lb.Rand
}

// Proxy proxies connections. It is safe for concurrent use.
type Proxy struct {
	opts Options

	mu       sync.Mutex
	sessions map[*session]struct{}
	closed   bool
	idle     chan struct{} // closed when sessions empties after shutdown began
}

// session is one proxied connection; its conns are closed on shutdown.
type session struct {
	mu       sync.Mutex
	client   net.Conn
	upstream net.Conn
	closed   bool
}

func (s *session) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	_ = s.client.Close()
	if s.upstream != nil {
		_ = s.upstream.Close()
	}
}

// New returns a Proxy.
func New(opts Options) *Proxy {
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = DefaultConnectTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Rand == nil {
		opts.Rand = globalRand{}
	}
	return &Proxy{opts: opts, sessions: map[*session]struct{}{}}
}

// Conn describes a connection to proxy.
type Conn struct {
	// Client is the downstream connection, with any bytes already read
	// from it put back (see Replay) unless TLS was terminated.
	Client net.Conn
	// Routes are the candidate routes; RouteFor picks one by SNI.
	Routes []*snapshot.L4Route
	// SNI is the server name the client sent, "" if none.
	SNI string
	// Protocol names the connection in the access log: "tcp" or "tls".
	Protocol string
	// Admitted, when set, is called once Handle has registered the
	// connection (so a later Shutdown waits for it) or refused it. A
	// caller handing connections over uses it to know the hand-off is
	// complete.
	Admitted func()
}

// Handle proxies one connection until either side is done, then closes
// it. It returns at once, closing the client, when no route takes the
// connection, when nothing can be dialed, or after Shutdown.
func (p *Proxy) Handle(ctx context.Context, c Conn) {
	rec := accesslog.Record{
		Start:                   time.Now(),
		Protocol:                c.Protocol,
		Authority:               c.SNI,
		DownstreamRemoteAddress: c.Client.RemoteAddr().String(),
	}
	defer func() {
		rec.Duration = time.Since(rec.Start)
		p.opts.AccessLog.Log(&rec)
	}()
	s := &session{client: c.Client}
	admitted := p.add(s)
	if c.Admitted != nil {
		c.Admitted()
	}
	if !admitted {
		_ = c.Client.Close()
		return
	}
	defer p.remove(s)
	defer s.close()

	rt := RouteFor(c.Routes, c.SNI)
	if rt == nil || len(rt.Destinations) == 0 {
		rec.Flags |= accesslog.NoRoute
		return
	}
	rec.RouteName = rt.Name
	cluster := pickWeighted(rt.Destinations, p.opts.Rand)
	rec.UpstreamCluster = cluster

	dctx, cancel := context.WithTimeout(ctx, p.opts.ConnectTimeout)
	up, endpoint, err := p.opts.Dialer.DialCluster(dctx, cluster)
	cancel()
	rec.UpstreamHost = endpoint
	if err != nil {
		switch {
		case errors.Is(err, ErrNoCluster):
			rec.Flags |= accesslog.NoClusterFound
		case errors.Is(err, ErrNoHealthyUpstream):
			rec.Flags |= accesslog.NoHealthyUpstream
		default:
			rec.Flags |= accesslog.UpstreamConnectionFailure
		}
		p.opts.Logger.Debug("tcp upstream dial failed", "cluster", cluster, "endpoint", endpoint, "error", err)
		return
	}
	s.mu.Lock()
	if s.closed {
		// Shutdown gave up waiting while the dial was in progress.
		s.mu.Unlock()
		_ = up.Close()
		return
	}
	s.upstream = up
	s.mu.Unlock()
	rec.BytesReceived, rec.BytesSent = pipe(c.Client, up, p.opts.IdleTimeout)
}

// Shutdown makes Handle refuse new connections, waits for the proxied
// ones to end until ctx is done, then closes those still open.
func (p *Proxy) Shutdown(ctx context.Context) {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		p.idle = make(chan struct{})
		if len(p.sessions) == 0 {
			close(p.idle)
		}
	}
	idle := p.idle
	p.mu.Unlock()
	select {
	case <-idle:
		return
	case <-ctx.Done():
	}
	p.mu.Lock()
	open := make([]*session, 0, len(p.sessions))
	for s := range p.sessions {
		open = append(open, s)
	}
	p.mu.Unlock()
	for _, s := range open {
		s.close()
	}
	<-idle
}

// Active returns the number of connections being proxied.
func (p *Proxy) Active() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sessions)
}

func (p *Proxy) add(s *session) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.sessions[s] = struct{}{}
	return true
}

func (p *Proxy) remove(s *session) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.sessions, s)
	if p.closed && len(p.sessions) == 0 {
		select {
		case <-p.idle:
		default:
			close(p.idle)
		}
	}
}

// pipe copies bytes both ways until both directions are done. When one
// side stops sending (EOF), the other side's write half is closed and the
// other direction goes on: half-close, which protocols that signal the end
// of a request by shutting down writes depend on. An error in either
// direction, or idle without a byte either way, ends both. It returns the
// bytes received from the client and sent to it.
func pipe(client, upstream net.Conn, idle time.Duration) (received, sent int64) {
	var last atomic.Int64
	touch := func() { last.Store(time.Now().UnixNano()) }
	touch()
	var once sync.Once
	closeBoth := func() {
		once.Do(func() {
			_ = client.Close()
			_ = upstream.Close()
		})
	}
	done := make(chan struct{})
	defer close(done)
	if idle > 0 {
		go func() {
			t := time.NewTimer(idle)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					elapsed := time.Duration(time.Now().UnixNano() - last.Load())
					if elapsed >= idle {
						closeBoth()
						return
					}
					t.Reset(idle - elapsed)
				}
			}
		}()
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		var err error
		received, err = copyTouching(upstream, client, touch)
		if err != nil || closeWrite(upstream) != nil {
			closeBoth()
		}
	})
	var err error
	sent, err = copyTouching(client, upstream, touch)
	if err != nil || closeWrite(client) != nil {
		closeBoth()
	}
	wg.Wait()
	closeBoth()
	return received, sent
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// copyTouching copies src to dst until EOF, calling touch on every chunk
// so the idle timer sees traffic in either direction.
func copyTouching(dst io.Writer, src io.Reader, touch func()) (int64, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var n int64
	for {
		nr, rerr := src.Read(buf)
		if nr > 0 {
			touch()
			nw, werr := dst.Write(buf[:nr])
			n += int64(nw)
			if werr != nil {
				return n, werr
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

// pickWeighted chooses a destination with probability weight/sum.
func pickWeighted(ds []snapshot.WeightedCluster, rnd lb.Rand) string {
	if len(ds) == 1 {
		return ds[0].Cluster
	}
	var total uint64
	for _, d := range ds {
		total += uint64(d.Weight)
	}
	if total == 0 {
		return ds[0].Cluster
	}
	n := rnd.Uint64() % total
	for _, d := range ds {
		if n < uint64(d.Weight) {
			return d.Cluster
		}
		n -= uint64(d.Weight)
	}
	return ds[len(ds)-1].Cluster
}

// globalRand draws from math/rand/v2's goroutine-safe global source.
type globalRand struct{}

func (globalRand) IntN(n int) int { return rand.IntN(n) }
func (globalRand) Uint64() uint64 { return rand.Uint64() }
