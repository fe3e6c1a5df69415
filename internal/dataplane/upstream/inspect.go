package upstream

import (
	"time"

	"github.com/meshgate/meshgate/internal/lb"
	"github.com/meshgate/meshgate/internal/lb/priority"
	"github.com/meshgate/meshgate/internal/outlier"
)

// This file answers the admin API's questions about a cluster. Nothing
// here is on the request path.

// Balancing names how a cluster picks hosts.
type Balancing string

// Balancing modes.
const (
	// BalancingFlat is the plain host picker: one priority, every
	// endpoint healthy by its source, no outlier detection and no
	// locality weighting.
	BalancingFlat Balancing = "flat"
	// BalancingPriority picks a priority, then a locality, then a host.
	BalancingPriority Balancing = "priority"
	// BalancingSpillover is BalancingPriority with load-based spillover.
	BalancingSpillover Balancing = "priority+spillover"
)

// Balancing returns the cluster's balancing mode.
func (c *Cluster) Balancing() Balancing {
	switch {
	case c.fast != nil:
		return BalancingFlat
	case c.bal.Load().spill != nil:
		return BalancingSpillover
	}
	return BalancingPriority
}

// Table describes the priority levels, their load and their localities
// as the picker serving now sees them. A flat cluster is described as the
// one priority it is.
func (c *Cluster) Table() priority.Table {
	if c.fast != nil {
		p := newPlan(c.Spec, c.Hosts, lb.Options{}, false)
		return priority.New(p.levels, nil, p.opts).Table()
	}
	return c.bal.Load().full.Table()
}

// HostHealth returns h's health for balancing now: its source's verdict,
// then outlier ejection.
func (c *Cluster) HostHealth(h *lb.Host) priority.Health {
	if c.fast != nil {
		return priority.Healthy
	}
	return c.health(h)
}

// Outlier returns the cluster's outlier detector, or nil without outlier
// detection. Callers may read it (Status, Stats, Policy) but not report.
func (c *Cluster) Outlier() *outlier.Detector { return c.detector }

// Now reads the clock outlier detection runs on.
func (c *Cluster) Now() time.Time { return c.now() }

// SpillStatus is a cluster's load-based spillover state.
type SpillStatus struct {
	MaxActiveRequestsPerEndpoint uint32 `json:"maxActiveRequestsPerEndpoint"`
	// Requests counts the requests spillover decided on since the
	// cluster appeared; Spilled how many of them it moved to a later
	// priority, and SpilledPercent the ratio.
	Requests       uint64  `json:"requests"`
	Spilled        uint64  `json:"spilled"`
	SpilledPercent float64 `json:"spilledPercent"`
	// Priorities is each priority's saturation now.
	Priorities []SpillPriority `json:"priorities"`
}

// SpillPriority is one priority's saturation.
type SpillPriority struct {
	Priority     int `json:"priority"`
	HealthyHosts int `json:"healthyHosts"`
	// Capacity is T × healthy hosts; above it the priority is saturated.
	Capacity       int64 `json:"capacity"`
	ActiveRequests int64 `json:"activeRequests"`
	// SpillPercent is the chance, now, that a request the health-based
	// table sends here moves on to SpillsTo.
	SpillPercent float64 `json:"spillPercent"`
	// SpillsTo is the priority that takes the overflow; -1 when none can.
	SpillsTo int `json:"spillsTo"`
	// Spilled counts requests moved away from this priority.
	Spilled uint64 `json:"spilled"`
}

// Spillover returns the spillover state, or nil when the cluster has no
// spillover policy.
func (c *Cluster) Spillover() *SpillStatus {
	sp := c.Spec.Spillover
	if sp == nil || c.spill == nil {
		return nil
	}
	st := &SpillStatus{
		MaxActiveRequestsPerEndpoint: sp.MaxActiveRequestsPerEndpoint,
		Requests:                     c.spill.requests.Load(),
		Priorities:                   []SpillPriority{},
	}
	for i := range c.spill.spilled {
		st.Spilled += c.spill.spilled[i].Load()
	}
	if st.Requests > 0 {
		st.SpilledPercent = 100 * float64(st.Spilled) / float64(st.Requests)
	}
	if c.fast != nil {
		return st
	}
	plan := c.bal.Load().spill
	if plan == nil {
		return st
	}
	for i := range plan.levels {
		l := &plan.levels[i]
		capacity, active := plan.saturation(l)
		st.Priorities = append(st.Priorities, SpillPriority{
			Priority:       i,
			HealthyHosts:   len(l.healthy),
			Capacity:       capacity,
			ActiveRequests: active,
			SpillPercent:   100 * plan.probability(l),
			SpillsTo:       l.next,
			Spilled:        c.spill.spilled[min(i, maxCountedLevels-1)].Load(),
		})
	}
	return st
}
