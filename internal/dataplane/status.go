package dataplane

import (
	"time"

	"github.com/meshgate/meshgate/internal/dataplane/upstream"
	"github.com/meshgate/meshgate/internal/lb"
	"github.com/meshgate/meshgate/internal/lb/priority"
	"github.com/meshgate/meshgate/internal/outlier"
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
	// Balancing is "flat", "priority" or "priority+spillover".
	Balancing upstream.Balancing `json:"balancing"`
	// ActiveRequests is the requests in flight to the cluster's endpoints.
	ActiveRequests int64            `json:"activeRequests"`
	Endpoints      []EndpointStatus `json:"endpoints"`
	// Priorities is the priority table: load per priority, its
	// localities and their endpoints.
	Priorities PriorityTable `json:"priorities"`
	// Outlier is set when the cluster has outlier detection.
	Outlier *OutlierStatus `json:"outlier,omitempty"`
	// Spillover is set when the cluster has a spillover policy.
	Spillover *upstream.SpillStatus `json:"spillover,omitempty"`
	// Limits are the connectionPool settings and CircuitBreakers the live
	// counts they apply to (per cluster, in this gateway).
	Limits          snapshot.ConnectionLimits `json:"limits"`
	CircuitBreakers upstream.BreakerStatus    `json:"circuitBreakers"`
}

// EndpointStatus is the live view of one endpoint.
type EndpointStatus struct {
	Address  string            `json:"address"`
	Labels   map[string]string `json:"labels,omitempty"`
	Locality string            `json:"locality,omitempty"`
	Network  string            `json:"network,omitempty"`
	Weight   uint32            `json:"weight"`
	// Health is the endpoint's health for balancing: its source's
	// UNHEALTHY or DRAINING first, then EJECTED by outlier detection,
	// else HEALTHY.
	Health         string `json:"health"`
	ActiveRequests int64  `json:"activeRequests"`
	Priority       uint32 `json:"priority"`
	LocalityWeight uint32 `json:"localityWeight,omitempty"`
	// SourceHealth is what the configuration source reports.
	SourceHealth snapshot.EndpointHealth `json:"sourceHealth"`
	// Outlier is the endpoint's outlier-detection state, when the cluster
	// has outlier detection.
	Outlier *EndpointOutlier `json:"outlier,omitempty"`
}

// EndpointOutlier is an endpoint's outlier-detection state.
type EndpointOutlier struct {
	outlier.HostStatus
	// EjectionTimeLeft is how long the ejection still runs; the endpoint
	// returns at the first sweep after it. Empty when not ejected.
	EjectionTimeLeft string `json:"ejectionTimeLeft,omitempty"`
}

// PriorityTable is the priority load of a cluster as the picker serving
// now computed it.
type PriorityTable struct {
	OverprovisioningFactor float64          `json:"overprovisioningFactor"`
	PanicThreshold         int              `json:"panicThreshold"`
	LocalityWeighted       bool             `json:"localityWeighted"`
	NormalizedTotalHealth  int              `json:"normalizedTotalHealth"`
	Levels                 []PriorityStatus `json:"levels"`
}

// PriorityStatus is one priority level.
type PriorityStatus struct {
	Priority int `json:"priority"`
	Hosts    int `json:"hosts"`
	Healthy  int `json:"healthy"`
	Degraded int `json:"degraded"`
	// HealthScore is min(100, 1.4 × 100 × healthy / hosts).
	HealthScore int `json:"healthScore"`
	// HealthyLoad and DegradedLoad are the percent of requests the level
	// receives by health (before any spillover).
	HealthyLoad    int              `json:"healthyLoad"`
	DegradedLoad   int              `json:"degradedLoad"`
	Panic          bool             `json:"panic"`
	ActiveRequests int64            `json:"activeRequests"`
	Localities     []LocalityStatus `json:"localities"`
}

// LocalityStatus is one locality of a priority level.
type LocalityStatus struct {
	Locality        string  `json:"locality"`
	Weight          uint32  `json:"weight"`
	EffectiveWeight float64 `json:"effectiveWeight"`
	// Share is the percent of the level's healthy traffic the locality
	// receives when localities are weighted.
	Share     float64        `json:"share,omitempty"`
	Endpoints []EndpointLink `json:"endpoints"`
}

// EndpointLink is an endpoint as listed in the priority table; the full
// state is in ClusterStatus.Endpoints.
type EndpointLink struct {
	Address        string `json:"address"`
	Health         string `json:"health"`
	ActiveRequests int64  `json:"activeRequests"`
}

// OutlierStatus is a cluster's outlier-detection policy and counters.
type OutlierStatus struct {
	Policy *snapshot.OutlierPolicy `json:"policy"`
	Stats  outlier.Stats           `json:"stats"`
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
		out = append(out, clusterStatus(sc, st.upstreams.Cluster(sc.Name)))
	}
	return out
}

func clusterStatus(sc *snapshot.Cluster, uc *upstream.Cluster) ClusterStatus {
	cs := ClusterStatus{
		Name: sc.Name, Service: sc.Service, Port: sc.Port, Subset: sc.Subset,
		LB: sc.LB.Kind, UpstreamProtocol: sc.UpstreamProtocol,
		Endpoints: make([]EndpointStatus, 0, len(sc.Endpoints)),
		Limits:    sc.Limits,
	}
	if uc == nil {
		return cs
	}
	cs.CircuitBreakers = uc.Breaker().Status()
	var now time.Time
	d := uc.Outlier()
	if d != nil {
		now = uc.Now()
		cs.Outlier = &OutlierStatus{Policy: sc.Outlier, Stats: d.Stats()}
	}
	byAddress := make(map[string]*EndpointStatus, len(sc.Endpoints))
	for i, ep := range sc.Endpoints {
		h := uc.Hosts[i]
		es := EndpointStatus{
			Address: ep.Address, Labels: ep.Labels, Locality: ep.Locality.String(),
			Network: ep.Network, Weight: ep.Weight,
			ActiveRequests: h.Active(),
			Priority:       ep.Priority, LocalityWeight: ep.LocalityWeight,
			SourceHealth: ep.Health,
		}
		if es.SourceHealth == "" {
			es.SourceHealth = snapshot.Healthy
		}
		es.Health = endpointHealth(uc, h, es.SourceHealth)
		if d != nil {
			es.Outlier = endpointOutlier(d, h, now)
		}
		cs.ActiveRequests += es.ActiveRequests
		cs.Endpoints = append(cs.Endpoints, es)
	}
	for i := range cs.Endpoints {
		byAddress[cs.Endpoints[i].Address] = &cs.Endpoints[i]
	}
	cs.Balancing = uc.Balancing()
	cs.Priorities = priorityTable(uc.Table(), byAddress)
	cs.Spillover = uc.Spillover()
	return cs
}

// endpointHealth names a host's health for balancing: the source's
// verdict wins, then ejection.
func endpointHealth(uc *upstream.Cluster, h *lb.Host, source snapshot.EndpointHealth) string {
	switch {
	case source != snapshot.Healthy:
		return string(source)
	case uc.HostHealth(h) != priority.Healthy:
		return "EJECTED"
	}
	return string(snapshot.Healthy)
}

func endpointOutlier(d *outlier.Detector, h *lb.Host, now time.Time) *EndpointOutlier {
	eo := &EndpointOutlier{HostStatus: d.Status(h, now)}
	if eo.Ejected {
		eo.EjectionTimeLeft = max(eo.EjectedUntil.Sub(now), 0).Round(time.Millisecond).String()
	}
	return eo
}

// priorityTable joins the picker's table with the endpoints' live state.
func priorityTable(t priority.Table, byAddress map[string]*EndpointStatus) PriorityTable {
	pt := PriorityTable{
		OverprovisioningFactor: t.OverprovisioningFactor,
		PanicThreshold:         t.PanicThreshold,
		LocalityWeighted:       t.LocalityWeighted,
		NormalizedTotalHealth:  t.NormalizedTotalHealth,
		Levels:                 make([]PriorityStatus, 0, len(t.Priorities)),
	}
	for _, p := range t.Priorities {
		ps := PriorityStatus{
			Priority: p.Priority, Hosts: p.Hosts, Healthy: p.Healthy, Degraded: p.Degraded,
			HealthScore: p.HealthScore, HealthyLoad: p.HealthyLoad, DegradedLoad: p.DegradedLoad,
			Panic: p.Panic, Localities: make([]LocalityStatus, 0, len(p.Localities)),
		}
		for _, l := range p.Localities {
			ls := LocalityStatus{
				Locality: l.Locality, Weight: l.Weight, EffectiveWeight: l.EffectiveWeight,
				Share: l.Share, Endpoints: make([]EndpointLink, 0, len(l.Hosts)),
			}
			for _, h := range l.Hosts {
				link := EndpointLink{Address: h.Address, Health: h.Health.String()}
				if es := byAddress[h.Address]; es != nil {
					link.Health = es.Health
					link.ActiveRequests = es.ActiveRequests
				}
				ps.ActiveRequests += link.ActiveRequests
				ls.Endpoints = append(ls.Endpoints, link)
			}
			ps.Localities = append(ps.Localities, ls)
		}
		pt.Levels = append(pt.Levels, ps)
	}
	return pt
}
