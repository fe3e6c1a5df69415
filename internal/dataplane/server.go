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
	"github.com/meshgate/meshgate/internal/telemetry/live"
	"github.com/meshgate/meshgate/internal/telemetry/tracing"
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
	// Live counts requests for the admin server's live page; nil counts
	// nothing.
	Live *live.Recorder
	// Tracer continues or starts a trace per request and propagates it
	// upstream; nil leaves trace headers as the client sent them.
	Tracer *tracing.Tracer
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
	h := &listenerHandler{server: s, address: address}
	h.grpcWeb = grpcweb.Wrap(http.HandlerFunc(h.serve))
	return h
}

type listenerHandler struct {
	server  *Server
	address string
	// grpcWeb is serve behind the gRPC-Web bridge.
	grpcWeb http.Handler
}

// ServeHTTP bridges a gRPC-Web request to gRPC when bridgeGRPCWeb says
// so, and serves every other request as it is.
func (h *listenerHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if grpcweb.IsRequest(r) && h.bridgeGRPCWeb(r) {
		h.grpcWeb.ServeHTTP(w, r)
		return
	}
	h.serve(w, r)
}

// bridgeGRPCWeb decides who converts a gRPC-Web request. Istio puts
// Envoy's grpc_web filter on gateway servers of protocol GRPC-WEB and
// on the sidecars of backends whose port says grpc-web, which meshgate
// has no equivalent of. So the gateway converts on a GRPC-WEB listener,
// and on any other listener when the route sends the request to a
// backend that speaks gRPC (HTTP/2); a request routed to an HTTP/1.1
// backend passes through untouched, since only a gRPC-Web server can
// answer it there. A request no route takes gets its 404 in gRPC-Web
// form.
func (h *listenerHandler) bridgeGRPCWeb(r *http.Request) bool {
	st := h.server.state.Load()
	if st == nil {
		return false
	}
	ls := st.listeners[h.address]
	if ls == nil {
		return false
	}
	if ls.spec.Protocol == snapshot.ProtocolGRPCWeb {
		return true
	}
	_, rt := ls.table.Route(r)
	if rt == nil {
		// The 404 is the gateway's own: answer it in gRPC-Web form.
		return true
	}
	for _, d := range rt.Destinations {
		if c := st.upstreams.Cluster(d.Cluster); c != nil && c.Spec.UpstreamProtocol == snapshot.UpstreamH2C {
			return true
		}
	}
	return false
}

func (h *listenerHandler) serve(w http.ResponseWriter, r *http.Request) {
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
