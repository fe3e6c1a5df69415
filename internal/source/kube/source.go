// Package kube is a configuration source that reads a Kubernetes cluster's
// API: the Istio networking objects (Gateway, VirtualService,
// DestinationRule, ServiceEntry, WorkloadEntry), Services with their
// EndpointSlices, Pods and Nodes, Namespaces, and the Secrets that Gateway
// servers name as credentials. It watches them with client-go shared
// informers and sends the whole configuration as one Bundle after every
// change, like the file source does for files. It decodes and never
// interprets: turning EndpointSlices into endpoints is translate's job.
//
// Several clusters can be watched at once. The first is the configuration
// cluster: Istio objects, Namespaces and Secrets are read from it alone,
// as an Istio primary cluster reads them; every cluster contributes
// Services, EndpointSlices, Pods and Nodes, each tagged with its cluster.
//
// This is the only package that imports client-go (with its test
// infrastructure in kubetest).
package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshgate/meshgate/internal/pipeline"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
)

// Cluster is one cluster to watch.
type Cluster struct {
	// ID names the cluster in endpoints, origins ("kube:<id>/ns/name")
	// and logs.
	ID     string
	Config *rest.Config
}

// Options configure a Source.
type Options struct {
	// Clusters to watch; the first is the configuration cluster.
	Clusters []Cluster
	// Namespaces limits what is read to these namespaces; empty means all.
	// Nodes and Namespaces are cluster-scoped and always read whole.
	Namespaces []string
	// GatewayNamespace is the gateway's own namespace, where the Secrets
	// that Gateway servers name as credentials are read from, as Istio's
	// gateways read them.
	GatewayNamespace string
	Logger           *slog.Logger

	// Holdoff is how long the cluster must be quiet before a new Bundle
	// is built (default 100 ms); MaxDelay bounds the delay when it never
	// is (default 1 s), so endpoint changes apply within a second.
	Holdoff, MaxDelay time.Duration
	// ProbeInterval is how often each API server's /readyz is checked to
	// tell a lost API server from a quiet one (default 5 s).
	ProbeInterval time.Duration
}

// Source watches Kubernetes clusters.
type Source struct {
	opts     Options
	logger   *slog.Logger
	clusters []*cluster
	// changed is signalled (never blocking) on every relevant change.
	changed chan struct{}
	synced  atomic.Bool
	// secrets are the names of the Secrets the last Bundle's Gateways
	// reference, so changes to other Secrets are not worth a rebuild.
	secrets atomic.Pointer[map[string]bool]
	started atomic.Bool
}

var klogOnce sync.Once

// New returns a source for opts.Clusters. Nothing is contacted until Run.
func New(opts Options) (*Source, error) {
	if len(opts.Clusters) == 0 {
		return nil, errors.New("kube: no cluster to watch")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Holdoff <= 0 {
		opts.Holdoff = 100 * time.Millisecond
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = time.Second
	}
	if opts.ProbeInterval <= 0 {
		opts.ProbeInterval = 5 * time.Second
	}
	seen := map[string]bool{}
	for _, c := range opts.Clusters {
		if c.ID == "" || c.Config == nil {
			return nil, errors.New("kube: every cluster needs an ID and a client configuration")
		}
		if seen[c.ID] {
			return nil, fmt.Errorf("kube: cluster ID %q is used twice", c.ID)
		}
		seen[c.ID] = true
	}
	// client-go logs through klog; send it where the gateway's logs go.
	klogOnce.Do(func() { klog.SetSlogLogger(opts.Logger.With("component", "client-go")) })
	s := &Source{opts: opts, logger: opts.Logger, changed: make(chan struct{}, 1)}
	for i, c := range opts.Clusters {
		cl, err := newCluster(s, c, i == 0)
		if err != nil {
			return nil, err
		}
		s.clusters = append(s.clusters, cl)
	}
	return s, nil
}

// Run starts the informers, waits until every one has synced, sends the
// first Bundle, then sends a fresh one after every change until ctx is
// done. Bursts of changes are coalesced (Options.Holdoff, MaxDelay).
// Like the file source it never blocks on out: while the reader is busy,
// a newer update replaces the one waiting.
//
// When an API server is lost, the informers keep retrying (client-go
// reconnects by itself) and nothing is sent meanwhile, so the last
// configuration keeps serving; Problems says so until it is back.
func (s *Source) Run(ctx context.Context, out chan<- pipeline.Update) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("kube: Run called twice")
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel() // runs first: stops everything, then wait for it

	updates := make(chan pipeline.Update)
	wg.Go(func() { forward(ctx, updates, out) })
	for _, c := range s.clusters {
		c.start(ctx)
		wg.Go(func() { c.probe(ctx, s.opts.ProbeInterval) })
	}

	began := time.Now()
	if !s.waitSynced(ctx) {
		return nil
	}
	s.synced.Store(true)
	s.logger.Info("Kubernetes informers synced", "clusters", len(s.clusters), "took", time.Since(began).Round(time.Millisecond))

	send := func() {
		u := s.update()
		select {
		case updates <- u:
		case <-ctx.Done():
		}
	}
	// Changes seen while syncing are in the first Bundle already.
	select {
	case <-s.changed:
	default:
	}
	send()

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var burstStart time.Time // zero when no rebuild is pending
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.changed:
			now := time.Now()
			if burstStart.IsZero() {
				burstStart = now
			}
			timer.Reset(max(0, min(s.opts.Holdoff, s.opts.MaxDelay-now.Sub(burstStart))))
		case <-timer.C:
			burstStart = time.Time{}
			send()
		}
	}
}

// waitSynced waits until every informer of every cluster has synced, or
// ctx ends.
func (s *Source) waitSynced(ctx context.Context) bool {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if !slices.ContainsFunc(s.clusters, func(c *cluster) bool { return len(c.unsynced()) > 0 }) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}

// notify records that something relevant changed.
func (s *Source) notify() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// Synced reports whether every informer has synced and the first Bundle
// has been built. It stays true when an API server is lost later: the
// last configuration keeps serving.
func (s *Source) Synced() bool { return s.synced.Load() }

// Problems describes what is wrong now, one line per cluster: informers
// still waiting for their first sync, or an API server that cannot be
// reached (the last configuration keeps serving meanwhile).
func (s *Source) Problems() []string {
	var out []string
	for _, c := range s.clusters {
		if !s.synced.Load() {
			if kinds := c.unsynced(); len(kinds) > 0 {
				out = append(out, fmt.Sprintf("kube:%s: waiting for the first list of %s", c.id, strings.Join(kinds, ", ")))
				for _, k := range kinds {
					if err := c.health.informerError(k); err != "" {
						out = append(out, fmt.Sprintf("kube:%s: %s: %s", c.id, k, err))
					}
				}
			}
		}
		if p := c.health.problem(); p != "" {
			out = append(out, "kube:"+c.id+": "+p)
		}
	}
	return out
}

// forward passes updates from in to out, holding at most one: while out's
// reader is busy, a newer update replaces the one waiting.
func forward(ctx context.Context, in <-chan pipeline.Update, out chan<- pipeline.Update) {
	var (
		pending pipeline.Update
		has     bool
	)
	for {
		var send chan<- pipeline.Update // nil, so never ready, until there is one
		if has {
			send = out
		}
		select {
		case <-ctx.Done():
			return
		case pending = <-in:
			has = true
		case send <- pending:
			pending, has = pipeline.Update{}, false
		}
	}
}
