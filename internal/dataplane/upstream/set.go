package upstream

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshgate/meshgate/internal/lb"
	"github.com/meshgate/meshgate/internal/outlier"
	"github.com/meshgate/meshgate/internal/snapshot"
)

// Cluster is the runtime view of one snapshot cluster.
type Cluster struct {
	Spec *snapshot.Cluster
	// Hosts is parallel to Spec.Endpoints.
	Hosts     []*lb.Host
	Transport http.RoundTripper

	key transportKey
	now func() time.Time
	rnd lb.Rand

	// fast is the plain picker of a cluster with one priority, every
	// endpoint healthy by its source, no outlier detection and no
	// locality weighting: nothing can change its host set until the next
	// snapshot, so it is built once and Pick goes straight to it.
	fast lb.Picker
	// plan and bal serve every other cluster: plan is the fixed grouping
	// into priorities and localities, bal the picker built from it for the
	// hosts' current health, replaced whenever that health changes.
	plan *plan
	bal  atomic.Pointer[balancer]
	// rebuildMu makes rebuilds read health and publish in one step, so the
	// picker published last reflects every change made before it started.
	rebuildMu sync.Mutex

	detector *outlier.Detector // nil without outlier detection
	spill    *spillCounters    // nil without spillover
	breaker  *Breaker
	tls      *clientTLS // nil for plain text
}

// Set is the runtime view of every cluster of one snapshot. It is
// immutable once built.
type Set struct {
	clusters map[string]*Cluster
}

// Cluster returns the runtime cluster with the given name, or nil.
func (s *Set) Cluster(name string) *Cluster {
	if s == nil {
		return nil
	}
	return s.clusters[name]
}

// Build creates the runtime clusters for a snapshot, reusing the registry's
// hosts and transports and carrying each cluster's outlier state over by
// name, so ejections and failure counters of hosts that remain survive the
// reload.
func (r *Registry) Build(snap *snapshot.Snapshot, opts lb.Options) *Set {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	rnd := opts.Rand
	if rnd == nil {
		rnd = globalRand{}
	}
	set := &Set{clusters: make(map[string]*Cluster, len(snap.Clusters))}
	for _, sc := range snap.Clusters {
		c := &Cluster{
			Spec:  sc,
			Hosts: make([]*lb.Host, len(sc.Endpoints)),
			key:   transportKeyOf(sc),
			now:   r.now,
			rnd:   rnd,
		}
		for i, ep := range sc.Endpoints {
			c.Hosts[i] = r.host(sc.Name, ep.Address, ep.Weight)
		}
		st := r.state(sc.Name)
		st.limit.Store(&sc.Limits)
		if sc.TLS != nil {
			c.tls = newClientTLS(sc, upstreamALPN(sc.UpstreamProtocol))
		}
		st.tls.Store(c.tls)
		c.breaker = st.breaker
		st.outlier.update(sc.Outlier, c.Hosts, now)
		c.detector = st.outlier.detector
		if sc.Spillover != nil {
			if st.spill == nil {
				st.spill = &spillCounters{}
			}
			c.spill = st.spill
		} else {
			st.spill = nil
		}
		c.initBalancing(opts)
		c.Transport = r.roundTripper(c.key)
		set.clusters[sc.Name] = c
	}
	r.current = set
	return set
}
