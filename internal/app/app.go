// Package app wires the gateway together: a configuration source feeds the
// pipeline, the pipeline publishes snapshots to the listeners and the data
// plane, and the admin and status servers report on all of it. It also
// owns the process lifecycle (start, readiness, shutdown).
package app

import (
	"context"
	"errors"
	"fmt"
	"github.com/meshgate/meshgate/internal/telemetry/metrics"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshgate/meshgate/internal/admin"
	"github.com/meshgate/meshgate/internal/dataplane"
	"github.com/meshgate/meshgate/internal/dataplane/listener"
	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/pipeline"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
	"github.com/meshgate/meshgate/internal/source/file"
	"github.com/meshgate/meshgate/internal/telemetry/accesslog"
	"github.com/meshgate/meshgate/internal/telemetry/live"
	"github.com/meshgate/meshgate/internal/telemetry/tracing"
	"github.com/meshgate/meshgate/internal/translate"
)

// Options configure a gateway.
type Options struct {
	// ConfigPaths are files or directories of YAML, watched for changes.
	ConfigPaths []string
	// Bundle, when set, is served as-is instead of reading ConfigPaths
	// (used by the demo and by tests).
	Bundle *resource.Bundle
	// Source, when set, is read instead of ConfigPaths (the Kubernetes
	// source). If it implements SourceStatus, the gateway is ready only
	// once it has synced, and its problems show in the readiness details.
	Source Source

	Identity translate.Identity

	// AdminAddr and StatusAddr are listen addresses; empty disables.
	AdminAddr  string
	StatusAddr string

	// Logger receives operational logs; AccessLog, when non-nil, receives
	// one line per request in AccessLogOptions' format, sampled at its
	// rate (a zero SamplePercent logs only failures).
	Logger           *slog.Logger
	AccessLog        io.Writer
	AccessLogOptions accesslog.Options

	// Tracing configures trace propagation and span export; its zero
	// value propagates traces and exports nothing (sampling 0% for
	// requests that arrive without a decision). ServiceName and NodeID
	// default to the gateway's identity.
	Tracing tracing.Options

	// ShutdownTimeout bounds how long in-flight requests may take to
	// finish at shutdown.
	ShutdownTimeout time.Duration

	// Topology is the gateway's place behind load balancers (trusted
	// hops, PROXY protocol, XFCC) and how it drains and hands over its
	// sockets (lifecycle.go).
	Topology Topology

	// Rand makes balancing deterministic in tests; nil in production.
	Rand dataplane.Rand
}

// Source produces configuration: a complete Bundle at first and after
// every change, until ctx is done. Sends should not block for long: a
// source that has a newer Bundle replaces the one not yet taken.
type Source interface {
	Run(ctx context.Context, out chan<- pipeline.Update) error
}

// SourceStatus is implemented by sources whose state matters to
// readiness.
type SourceStatus interface {
	// Synced reports whether the source has read all of its input once.
	Synced() bool
	// Problems describes what is wrong now, one line each (an API server
	// that cannot be reached, say); the last configuration keeps serving.
	Problems() []string
}

// Gateway is a running gateway.
type Gateway struct {
	opts      Options
	logger    *slog.Logger
	data      *dataplane.Server
	listeners *listener.Manager
	pipe      *pipeline.Pipeline

	adminLn, statusLn net.Listener
	servers           []*http.Server

	stopping atomic.Bool
	wg       sync.WaitGroup
	runErr   chan error
	lc       lifecycle
	metrics  *metrics.Recorder
	// accessLog is flushed and closed, and the tracer's spans sent, once
	// the last request is done.
	accessLog *accesslog.Logger
	tracer    *tracing.Tracer
	// live counts traffic for the admin server's live page, livePage
	// (nil without an admin address) keeps its health history.
	live     *live.Recorder
	livePage *admin.Live
}

// Start binds the admin and status ports, starts the configuration source
// and returns. The data-plane listeners open as soon as the first
// configuration is compiled; use Ready or WaitReady to know when.
func Start(ctx context.Context, opts Options) (*Gateway, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = 10 * time.Second
	}
	if err := opts.Topology.Forwarded.Validate(); err != nil {
		return nil, err
	}
	g := &Gateway{opts: opts, logger: opts.Logger, runErr: make(chan error, 1)}
	g.lc.handedOver = make(chan struct{})
	inherited, err := g.startHandover(ctx)
	if err != nil {
		return nil, err
	}
	g.lc.inherited = map[string]net.Listener{}
	dataSockets := map[string]net.Listener{}
	for name, ln := range inherited {
		if a, ok := strings.CutPrefix(name, "data:"); ok {
			dataSockets[a] = ln
		} else {
			g.lc.inherited[name] = ln
		}
	}
	tracer, err := tracing.New(tracingOptions(opts))
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	g.tracer = tracer
	access := accesslog.New(opts.AccessLog, opts.AccessLogOptions)
	g.accessLog = access
	g.metrics = metrics.New(metrics.Options{
		Source: metrics.SourceFromLabels("istio-ingressgateway", opts.Identity.Namespace, opts.Identity.Cluster, opts.Identity.Labels),
	})
	g.live = live.New()
	g.data = dataplane.New(dataplane.Options{
		Metrics:   g.metrics,
		Live:      g.live,
		AccessLog: access,
		Tracer:    tracer,
		Logger:    opts.Logger.With("component", "dataplane"),
		Rand:      opts.Rand,
	})
	g.listeners = listener.NewManager(listener.Options{
		Handler: g.data.Handler,
		// L4 routes dial through the cluster runtime: the same picker,
		// outlier detection and limits as HTTP requests.
		Dialer:        g.data,
		AccessLog:     access,
		Connections:   g.metrics,
		Logger:        opts.Logger.With("component", "listener"),
		Forwarded:     &g.opts.Topology.Forwarded,
		ProxyProtocol: opts.Topology.ProxyProtocol,
		ReusePort:     opts.Topology.ReusePort,
		Inherited:     dataSockets,
	})
	g.pipe = pipeline.New(opts.Identity, g, opts.Logger.With("component", "pipeline"))

	if opts.AdminAddr != "" {
		g.livePage = admin.NewLive(g, g.live, 0)
		h := admin.WithLive(admin.WithPrometheus(admin.Handler(g), g, g.metrics), g.livePage)
		if g.adminLn, err = g.serve(ctx, "admin", opts.AdminAddr, h); err != nil {
			g.livePage.Close()
			g.closeServers(context.Background())
			_ = access.Close()
			_ = tracer.Shutdown(context.Background())
			return nil, fmt.Errorf("admin: %w", err)
		}
	}
	if opts.StatusAddr != "" {
		if g.statusLn, err = g.serve(ctx, "status", opts.StatusAddr, admin.StatusHandler(g)); err != nil {
			g.closeServers(context.Background())
			_ = access.Close()
			_ = tracer.Shutdown(context.Background())
			if g.livePage != nil {
				g.livePage.Close()
			}
			return nil, fmt.Errorf("status: %w", err)
		}
	}
	for name, ln := range g.lc.inherited {
		// Handed over, but no longer configured here.
		_ = ln.Close()
		delete(g.lc.inherited, name)
	}

	updates := make(chan pipeline.Update, 1)
	switch {
	case opts.Bundle != nil:
		updates <- pipeline.Update{Bundle: opts.Bundle}
	case opts.Source != nil:
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			if err := opts.Source.Run(ctx, updates); err != nil && !errors.Is(err, context.Canceled) {
				g.logger.Error("configuration source stopped", "error", err)
				g.runErr <- err
			}
		}()
	default:
		src := file.New(opts.ConfigPaths, opts.Logger.With("component", "source"))
		fileUpdates := make(chan file.Update, 1)
		g.wg.Add(2)
		go func() {
			defer g.wg.Done()
			if err := src.Run(ctx, fileUpdates); err != nil && !errors.Is(err, context.Canceled) {
				g.logger.Error("configuration source stopped", "error", err)
				g.runErr <- err
			}
		}()
		go func() {
			defer g.wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case u := <-fileUpdates:
					select {
					case updates <- pipeline.Update{Bundle: u.Bundle, Diagnostics: u.Diagnostics}:
					case <-ctx.Done():
						return
					}
				}
			}
		}()
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		g.pipe.Run(ctx, updates)
	}()
	if err := g.finishHandover(ctx); err != nil {
		g.logger.Error("listener hand-over unavailable", "error", err)
	}
	return g, nil
}

func (g *Gateway) serve(ctx context.Context, kind, addr string, h http.Handler) (net.Listener, error) {
	ln, inherited, err := g.listen(kind, addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	g.servers = append(g.servers, srv)
	if inherited {
		g.serveWhenReady(ctx, srv, ln)
	} else {
		go func() { _ = srv.Serve(ln) }()
	}
	return ln, nil
}

// Publish makes a snapshot live: requests switch to the new
// configuration, then new sockets open (so their first request finds its
// routes), then sockets no longer configured close gracefully.
func (g *Gateway) Publish(snap *snapshot.Snapshot) error {
	addrs := make([]string, 0, len(snap.Listeners))
	for _, l := range snap.Listeners {
		addrs = append(addrs, dataplane.SocketAddress(l))
	}
	g.data.Apply(snap)
	g.metrics.Apply(snap)
	err := g.listeners.Open(snap.Listeners)
	// Removed sockets stop accepting now; only the wait for their
	// in-flight requests happens in the background.
	drain := g.listeners.CloseExcept(addrs)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), g.opts.ShutdownTimeout)
		defer cancel()
		drain(ctx)
	}()
	return err
}

// Ready reports whether the first configuration is serving on every
// configured listener and shutdown has not begun.
func (g *Gateway) Ready() bool {
	if g.stopping.Load() && !g.handedOverReady() {
		return false
	}
	select {
	case <-g.pipe.Applied():
	default:
		return false
	}
	if s, ok := g.opts.Source.(SourceStatus); ok && !s.Synced() {
		return false
	}
	return g.pipe.Status().PublishError == ""
}

// ReadinessDetails explains readiness beyond yes or no: what the source
// is waiting for or cannot reach, the configuration version, the
// listeners and their connections, and the drain.
func (g *Gateway) ReadinessDetails() []string {
	var out []string
	if s, ok := g.opts.Source.(SourceStatus); ok {
		out = s.Problems()
	}
	return append(out, g.lifecycleDetails()...)
}

// WaitReady blocks until Ready or ctx ends.
func (g *Gateway) WaitReady(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !g.Ready() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("gateway not ready: %w", ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Snapshot returns the snapshot serving now.
func (g *Gateway) Snapshot() *snapshot.Snapshot { return g.data.Snapshot() }

// Status returns the latest configuration status.
func (g *Gateway) Status() pipeline.Status { return g.pipe.Status() }

// Clusters returns the live cluster view.
func (g *Gateway) Clusters() []dataplane.ClusterStatus { return g.data.Clusters() }

// Diagnostics returns the diagnostics of the latest configuration update.
func (g *Gateway) Diagnostics() diag.List { return g.pipe.Status().Diagnostics }

// AdminAddr returns the bound admin address, or "".
func (g *Gateway) AdminAddr() string { return addrOf(g.adminLn) }

// StatusAddr returns the bound status address, or "".
func (g *Gateway) StatusAddr() string { return addrOf(g.statusLn) }

func addrOf(ln net.Listener) string {
	if ln == nil {
		return ""
	}
	return ln.Addr().String()
}

// Errors delivers fatal errors from background components.
func (g *Gateway) Errors() <-chan error { return g.runErr }

// Wait blocks until the background goroutines started by Start end; they
// end when Start's context is cancelled.
func (g *Gateway) Wait() { g.wg.Wait() }

func (g *Gateway) closeServers(ctx context.Context) {
	for _, s := range g.servers {
		_ = s.Shutdown(ctx)
	}
}

// tracingOptions names the gateway's spans after its identity, as Istio
// does: service "<app>.<namespace>" (istio-ingressgateway.istio-system)
// and a router node id.
func tracingOptions(opts Options) tracing.Options {
	t := opts.Tracing
	ns := opts.Identity.Namespace
	if ns == "" {
		ns = translate.DefaultNamespace
	}
	app := opts.Identity.Labels["app"]
	if app == "" {
		app = "istio-ingressgateway"
	}
	if t.ServiceName == "" {
		t.ServiceName = app + "." + ns
	}
	if t.NodeID == "" {
		pod, _ := os.Hostname()
		if p := os.Getenv("POD_NAME"); p != "" {
			pod = p
		}
		t.NodeID = "router~" + os.Getenv("INSTANCE_IP") + "~" + pod + "." + ns + "~" + ns + ".svc.cluster.local"
	}
	return t
}
