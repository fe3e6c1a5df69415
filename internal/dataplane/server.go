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
	// Now is the clock of outlier detection: ejection times and the
	// sweep schedule. nil selects time.Now. Tests pass a fake clock and
	// call Tick after moving it, instead of waiting.
	Now func() time.Time
}

// Server is the HTTP data plane.
type Server struct {
	opts     Options
	state    atomic.Pointer[state]
	registry *upstream.Registry
	proxy    *httputil.ReverseProxy
	applyMu  sync.Mutex
	sweeper  sweeper
}

// New returns a Server with no configuration: until the first Apply every
// request is answered 404 NR. It starts the Server's one background
// goroutine, which runs outlier detection sweeps; Close stops it.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Rand == nil {
		opts.Rand = globalRand{}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, registry: upstream.NewRegistry(opts.Now)}
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
	s.sweeper.start(s.Tick, opts.Now)
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
	// Clusters may have gained outlier detection or a shorter interval.
	s.sweeper.reschedule()
}

// Snapshot returns the snapshot currently served, or nil before the first
// Apply.
func (s *Server) Snapshot() *snapshot.Snapshot {
	if st := s.state.Load(); st != nil {
		return st.snap
	}
	return nil
}

// Close stops the background sweeps and releases idle upstream
// connections. It may be called more than once.
func (s *Server) Close() {
	s.sweeper.stop()
	s.registry.Close()
}

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
