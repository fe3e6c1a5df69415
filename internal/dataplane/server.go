package dataplane

import (
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshgate/meshgate/internal/dataplane/upstream"
	"github.com/meshgate/meshgate/internal/lb"
	"github.com/meshgate/meshgate/internal/snapshot"
	"github.com/meshgate/meshgate/internal/telemetry/accesslog"
)

// Rand is the randomness the data plane draws from; tests inject a
// deterministic one.
type Rand = lb.Rand

// Options configure a Server.
type Options struct {
	// AccessLog receives one record per request; nil disables it.
	AccessLog *accesslog.Logger
	// Logger receives operational messages (not per-request ones).
	Logger *slog.Logger
	// Rand, when set, makes load-balancing and weighted choices
	// deterministic in tests.
	Rand lb.Rand
}

// Server is the HTTP data plane.
type Server struct {
	opts     Options
	state    atomic.Pointer[state]
	registry *upstream.Registry
	proxy    *httputil.ReverseProxy
	applyMu  sync.Mutex
}

// New returns a Server with no configuration: until the first Apply every
// request is answered 404 NR.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Rand == nil {
		opts.Rand = globalRand{}
	}
	s := &Server{opts: opts, registry: upstream.NewRegistry()}
	s.proxy = &httputil.ReverseProxy{
		Rewrite:        rewrite,
		Transport:      attemptTransport{rand: opts.Rand},
		ModifyResponse: modifyResponse,
		ErrorHandler:   errorHandler,
		// Stream responses as they arrive: gRPC and server-sent events
		// must not wait for a buffer to fill.
		FlushInterval: -1,
		ErrorLog:      slog.NewLogLogger(opts.Logger.Handler(), slog.LevelDebug),
	}
	return s
}

// Apply makes snap the configuration for every request that starts after
// it returns. Callers serialise Apply (one writer), but it is safe to call
// concurrently.
func (s *Server) Apply(snap *snapshot.Snapshot) {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	ups := s.registry.Build(snap, lb.Options{Rand: s.opts.Rand})
	s.state.Store(newState(snap, ups))
	s.registry.Forget(ups)
}

// Snapshot returns the snapshot currently served, or nil before the first
// Apply.
func (s *Server) Snapshot() *snapshot.Snapshot {
	if st := s.state.Load(); st != nil {
		return st.snap
	}
	return nil
}

// Close releases idle upstream connections.
func (s *Server) Close() { s.registry.Close() }

// Handler returns the handler for the socket bound at address (see
// SocketAddress). The handler follows configuration changes: it looks its
// listener up in the current state on every request.
func (s *Server) Handler(address string) http.Handler {
	return &listenerHandler{server: s, address: address}
}

type listenerHandler struct {
	server  *Server
	address string
}

func (h *listenerHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.server.serve(w, r, h.address)
}

// now is the clock for access-log timings.
var now = time.Now

// globalRand draws from math/rand/v2's goroutine-safe global source.
type globalRand struct{}

func (globalRand) IntN(n int) int { return rand.IntN(n) }
func (globalRand) Uint64() uint64 { return rand.Uint64() }
