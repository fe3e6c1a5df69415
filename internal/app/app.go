// Package app wires the gateway together: a configuration source feeds the
// pipeline, the pipeline publishes snapshots to the listeners and the data
// plane, and the admin and status servers report on all of it. It also
// owns the process lifecycle (start, readiness, shutdown).
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
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
	"github.com/meshgate/meshgate/internal/translate"
)

// Options configure a gateway.
type Options struct {
	// ConfigPaths are files or directories of YAML, watched for changes.
	ConfigPaths []string
	// Bundle, when set, is served as-is instead of reading ConfigPaths
	// (used by the demo and by tests).
	Bundle *resource.Bundle

	Identity translate.Identity

	// AdminAddr and StatusAddr are listen addresses; empty disables.
	AdminAddr  string
	StatusAddr string

	// Logger receives operational logs; AccessLog, when non-nil, receives
	// one JSON line per request.
	Logger    *slog.Logger
	AccessLog io.Writer

	// ShutdownTimeout bounds how long in-flight requests may take to
	// finish at shutdown.
	ShutdownTimeout time.Duration

	// Rand makes balancing deterministic in tests; nil in production.
	Rand dataplane.Rand
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
	g := &Gateway{opts: opts, logger: opts.Logger, runErr: make(chan error, 1)}
	var access *accesslog.Logger
	if opts.AccessLog != nil {
		access = accesslog.New(slog.New(slog.NewJSONHandler(opts.AccessLog, nil)))
	}
	g.data = dataplane.New(dataplane.Options{
		AccessLog: access,
		Logger:    opts.Logger.With("component", "dataplane"),
		Rand:      opts.Rand,
	})
	g.listeners = listener.NewManager(listener.Options{
		Handler: g.data.Handler,
		// L4 routes dial the endpoints the serving snapshot lists, in turn.
		Dialer:    g.data,
		AccessLog: access,
		Logger:    opts.Logger.With("component", "listener"),
	})
	g.pipe = pipeline.New(opts.Identity, g, opts.Logger.With("component", "pipeline"))

	var err error
	if opts.AdminAddr != "" {
		if g.adminLn, err = g.serve(opts.AdminAddr, admin.Handler(g)); err != nil {
			g.closeServers(context.Background())
			return nil, fmt.Errorf("admin: %w", err)
		}
	}
	if opts.StatusAddr != "" {
		if g.statusLn, err = g.serve(opts.StatusAddr, admin.StatusHandler(g)); err != nil {
			g.closeServers(context.Background())
			return nil, fmt.Errorf("status: %w", err)
		}
	}

	updates := make(chan pipeline.Update, 1)
	if opts.Bundle != nil {
		updates <- pipeline.Update{Bundle: opts.Bundle}
	} else {
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
	return g, nil
}

func (g *Gateway) serve(addr string, h http.Handler) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	g.servers = append(g.servers, srv)
	go func() { _ = srv.Serve(ln) }()
	return ln, nil
}

// Publish makes a snapshot live: new sockets open first, then requests
// switch to the new configuration, then sockets no longer configured
// close gracefully.
func (g *Gateway) Publish(snap *snapshot.Snapshot) error {
	addrs := make([]string, 0, len(snap.Listeners))
	for _, l := range snap.Listeners {
		addrs = append(addrs, dataplane.SocketAddress(l))
	}
	err := g.listeners.Open(snap.Listeners)
	g.data.Apply(snap)
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
	if g.stopping.Load() {
		return false
	}
	select {
	case <-g.pipe.Applied():
	default:
		return false
	}
	return g.pipe.Status().PublishError == ""
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

// Shutdown stops the gateway: readiness fails at once, listeners stop
// accepting, requests in flight finish (bounded by ShutdownTimeout), then
// background work ends. The caller cancels the context given to Start
// before or after calling Shutdown.
func (g *Gateway) Shutdown() {
	g.stopping.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), g.opts.ShutdownTimeout)
	defer cancel()
	g.listeners.Shutdown(ctx)
	g.data.Close()
	g.closeServers(ctx)
}

// Wait blocks until the background goroutines started by Start end; they
// end when Start's context is cancelled.
func (g *Gateway) Wait() { g.wg.Wait() }

func (g *Gateway) closeServers(ctx context.Context) {
	for _, s := range g.servers {
		_ = s.Shutdown(ctx)
	}
}
