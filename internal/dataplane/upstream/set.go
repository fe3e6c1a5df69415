package upstream

import (
	"net/http"

	"github.com/meshgate/meshgate/internal/lb"
	"github.com/meshgate/meshgate/internal/snapshot"
)

// Cluster is the runtime view of one snapshot cluster.
type Cluster struct {
	Spec *snapshot.Cluster
	// Hosts is parallel to Spec.Endpoints.
	Hosts     []*lb.Host
	Picker    lb.Picker
	Transport http.RoundTripper

	key transportKey
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
// hosts and transports.
func (r *Registry) Build(snap *snapshot.Snapshot, opts lb.Options) *Set {
	r.mu.Lock()
	defer r.mu.Unlock()
	set := &Set{clusters: make(map[string]*Cluster, len(snap.Clusters))}
	for _, sc := range snap.Clusters {
		c := &Cluster{
			Spec:  sc,
			Hosts: make([]*lb.Host, len(sc.Endpoints)),
			key:   transportKey{protocol: sc.UpstreamProtocol, connectTimeout: sc.ConnectTimeout},
		}
		for i, ep := range sc.Endpoints {
			c.Hosts[i] = r.host(sc.Name, ep.Address, ep.Weight)
		}
		c.Picker = lb.New(sc.LB, c.Hosts, opts)
		c.Transport = r.transport(c.key)
		set.clusters[sc.Name] = c
	}
	return set
}
