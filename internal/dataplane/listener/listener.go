// Package listener owns the gateway's sockets. Reconcile makes the set of
// bound sockets equal to a snapshot's listeners: it opens new sockets
// before closing removed ones, and an unchanged socket is never touched,
// so a reload neither refuses nor drops connections.
package listener

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"
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

// Manager keeps one HTTP server per listen address.
type Manager struct {
	handler HandlerFunc
	logger  *slog.Logger

	mu      sync.Mutex
	servers map[string]*server
}

type server struct {
	http *http.Server
	ln   net.Listener
	done chan struct{}
}

// NewManager returns a Manager whose servers take their handler from h.
func NewManager(h HandlerFunc, logger *slog.Logger) *Manager {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Manager{handler: h, logger: logger, servers: make(map[string]*server)}
}

// Open binds every address in want that is not bound yet. It returns the
// addresses it could not bind, joined into one error; the others are
// serving when it returns.
func (m *Manager) Open(want []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for _, addr := range want {
		if _, ok := m.servers[addr]; ok {
			continue
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			errs = append(errs, fmt.Errorf("listen %s: %w", addr, err))
			continue
		}
		srv := &server{http: newHTTPServer(m.handler(addr)), ln: ln, done: make(chan struct{})}
		m.servers[addr] = srv
		m.logger.Info("listening", "address", ln.Addr().String())
		go func() {
			defer close(srv.done)
			if err := srv.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
				m.logger.Error("listener stopped", "address", addr, "error", err)
			}
		}()
	}
	return errors.Join(errs...)
}

// CloseExcept stops accepting on every socket not in keep before it
// returns, so a later Open may bind the same address again at once. The
// returned function waits, bounded by its context, for the requests in
// flight on those sockets to finish.
func (m *Manager) CloseExcept(keep []string) (drain func(context.Context)) {
	keepSet := make(map[string]bool, len(keep))
	for _, a := range keep {
		keepSet[a] = true
	}
	m.mu.Lock()
	var closing []*server
	for addr, srv := range m.servers {
		if !keepSet[addr] {
			_ = srv.ln.Close()
			closing = append(closing, srv)
			delete(m.servers, addr)
			m.logger.Info("closing listener", "address", addr)
		}
	}
	m.mu.Unlock()
	return func(ctx context.Context) {
		var wg sync.WaitGroup
		for _, srv := range closing {
			wg.Go(func() { _ = srv.http.Shutdown(ctx) })
		}
		wg.Wait()
	}
}

// Shutdown closes every socket and waits for in-flight requests, bounded
// by ctx.
func (m *Manager) Shutdown(ctx context.Context) {
	m.CloseExcept(nil)(ctx)
}

// Addresses returns the bound listen addresses, as configured, sorted.
func (m *Manager) Addresses() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.servers))
	for a := range m.servers {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
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
	// Cleartext HTTP/2 with prior knowledge (h2c), which gRPC clients use
	// against plain-text gateway ports.
	srv.Protocols.SetUnencryptedHTTP2(true)
	return srv
}
