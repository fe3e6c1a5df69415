package kube

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"k8s.io/client-go/rest"
)

// probeTimeout bounds one /readyz check.
const probeTimeout = 2 * time.Second

// apiHealth tracks whether a cluster's API server can be reached. The
// informers reconnect by themselves but say nothing when they succeed, so
// the API server's /readyz is checked every ProbeInterval, and at once
// after an informer reports a watch error (which can be benign: a watch
// that expired is simply restarted).
type apiHealth struct {
	id     string
	rest   rest.Interface
	logger *slog.Logger
	kick   chan struct{}

	mu       sync.Mutex
	failing  bool
	since    time.Time
	failures int
	lastErr  string
	// watchErr is the latest informer error, the likeliest explanation;
	// informerErr keeps the latest per informer, which explains one that
	// cannot sync (RBAC forbids it, a CRD is not installed).
	watchErr    string
	informerErr map[string]string
}

func newAPIHealth(id string, rc rest.Interface, logger *slog.Logger) *apiHealth {
	return &apiHealth{id: id, rest: rc, logger: logger.With("cluster", id), kick: make(chan struct{}, 1)}
}

// watchError records an informer's list or watch error and checks the
// API server now.
func (h *apiHealth) watchError(informer string, err error) {
	h.mu.Lock()
	h.watchErr = informer + ": " + err.Error()
	if h.informerErr == nil {
		h.informerErr = map[string]string{}
	}
	h.informerErr[informer] = err.Error()
	h.mu.Unlock()
	h.logger.Debug("Kubernetes watch error", "informer", informer, "error", err)
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// probe checks the API server until ctx ends.
func (c *cluster) probe(ctx context.Context, interval time.Duration) {
	h := c.health
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-h.kick:
		}
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		_, err := h.rest.Get().AbsPath("/readyz").DoRaw(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		h.record(err)
	}
}

// record notes the outcome of a check, logging transitions only: a lost
// API server is one warning, not one per informer per retry.
func (h *apiHealth) record(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		if h.failing {
			h.logger.Info("Kubernetes API server reachable again; informers resume",
				"down_for", time.Since(h.since).Round(time.Second))
		}
		h.failing, h.failures, h.lastErr = false, 0, ""
		return
	}
	h.failures++
	h.lastErr = err.Error()
	if !h.failing {
		h.failing, h.since = true, time.Now()
		h.logger.Warn("Kubernetes API server unreachable; the last configuration keeps serving and the informers keep retrying",
			"error", err, "watch_error", h.watchErr)
	}
}

// problem describes an unreachable API server, or returns "".
func (h *apiHealth) problem() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.failing {
		return ""
	}
	return fmt.Sprintf("API server unreachable since %s (%d failed checks: %s); serving the last configuration until it is back",
		h.since.UTC().Format(time.RFC3339), h.failures, h.lastErr)
}

// informerError returns the latest error of an informer, or "".
func (h *apiHealth) informerError(informer string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.informerErr[informer]
}
