package dataplane

import (
	"github.com/meshgate/meshgate/internal/snapshot"
)

// ClusterStatus is the live view of one cluster for the admin API.
type ClusterStatus struct {
	Name             string                    `json:"name"`
	Service          string                    `json:"service"`
	Port             uint32                    `json:"port"`
	Subset           string                    `json:"subset,omitempty"`
	LB               snapshot.LBKind           `json:"lb"`
	UpstreamProtocol snapshot.UpstreamProtocol `json:"upstreamProtocol"`
	Endpoints        []EndpointStatus          `json:"endpoints"`
}

// EndpointStatus is the live view of one endpoint.
type EndpointStatus struct {
	Address        string            `json:"address"`
	Labels         map[string]string `json:"labels,omitempty"`
	Locality       string            `json:"locality,omitempty"`
	Network        string            `json:"network,omitempty"`
	Weight         uint32            `json:"weight"`
	Health         string            `json:"health"`
	ActiveRequests int64             `json:"activeRequests"`
}

// Clusters reports every cluster of the serving snapshot with its
// endpoints' live state, in snapshot order.
func (s *Server) Clusters() []ClusterStatus {
	st := s.state.Load()
	if st == nil {
		return []ClusterStatus{}
	}
	out := make([]ClusterStatus, 0, len(st.snap.Clusters))
	for _, sc := range st.snap.Clusters {
		cs := ClusterStatus{
			Name: sc.Name, Service: sc.Service, Port: sc.Port, Subset: sc.Subset,
			LB: sc.LB.Kind, UpstreamProtocol: sc.UpstreamProtocol,
			Endpoints: make([]EndpointStatus, 0, len(sc.Endpoints)),
		}
		uc := st.upstreams.Cluster(sc.Name)
		for i, ep := range sc.Endpoints {
			es := EndpointStatus{
				Address: ep.Address, Labels: ep.Labels, Locality: ep.Locality.String(),
				Network: ep.Network, Weight: ep.Weight, Health: "HEALTHY",
			}
			if uc != nil && i < len(uc.Hosts) {
				es.ActiveRequests = uc.Hosts[i].Active()
			}
			cs.Endpoints = append(cs.Endpoints, es)
		}
		out = append(out, cs)
	}
	return out
}
