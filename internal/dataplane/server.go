package dataplane

import (
	"context"
	"github.com/meshgate/meshgate/internal/telemetry/metrics"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshgate/meshgate/internal/dataplane/grpcweb"
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
	// Sleep waits for d, or until ctx is done and then returns ctx's
	// error. The request path sleeps for retry backoff and injected fault
	// delays; nil selects a timer. Tests pass one that records the
	// durations and returns at once.
	Sleep func(ctx context.Context, d time.Duration) error
	// RetryBufferLimit is how many request-body bytes are kept for
	// retries and mirrors; 0 selects DefaultRetryBufferLimit.
	RetryBufferLimit int
	// MaxMirrorsInFlight bounds the mirrored requests in flight to each
	// mirror cluster; more are dropped. 0 selects
	// DefaultMaxMirrorsInFlight.
	MaxMirrorsInFlight int
	// MirrorTimeout bounds a mirrored request when its route has no
	// timeout; 0 selects DefaultMirrorTimeout.
	MirrorTimeout time.Duration
	// Metrics records Istio's standard request metrics and the gateway's
	// retry and overflow counters; nil records nothing.
	Metrics *metrics.Recorder
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
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	if opts.RetryBufferLimit <= 0 {
		opts.RetryBufferLimit = DefaultRetryBufferLimit
	}
	if opts.MaxMirrorsInFlight <= 0 {
		opts.MaxMirrorsInFlight = DefaultMaxMirrorsInFlight
	}
	if opts.MirrorTimeout <= 0 {
		opts.MirrorTimeout = DefaultMirrorTimeout
	}
	s := &Server{opts: opts, registry: upstream.NewRegistry(opts.Now)}
	s.proxy = &httputil.ReverseProxy{
		Rewrite:        rewrite,
		Transport:      attemptTransport{s},
		ModifyResponse: modifyResponse,
		ErrorHandler:   errorHandler,
		ErrorLog:       slog.NewLogLogger(opts.Logger.Handler(), slog.LevelDebug),
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
	// gRPC-Web is bridged on every HTTP listener, as Istio configures
	// Envoy's grpc_web filter on its gateways.
	return grpcweb.Wrap(&listenerHandler{server: s, address: address})
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

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// globalRand draws from math/rand/v2's goroutine-safe global source.
type globalRand struct{}

func (globalRand) IntN(n int) int { return rand.IntN(n) }
func (globalRand) Uint64() uint64 { return rand.Uint64() }
