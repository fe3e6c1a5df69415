package upstream

import (
	"cmp"
	"math/rand/v2"
	"slices"

	"github.com/meshgate/meshgate/internal/lb"
	"github.com/meshgate/meshgate/internal/lb/priority"
	"github.com/meshgate/meshgate/internal/snapshot"
)

// plan is the part of a cluster's balancing that only a new snapshot
// changes: the endpoints grouped by priority and locality, with a host
// picker per locality built once, and the source health of each host.
type plan struct {
	levels []priority.Priority
	opts   priority.Options
	// source holds the hosts a source reports as not healthy; everything
	// else is healthy unless ejected.
	source map[*lb.Host]priority.Health
	// levelOf is each host's index in levels.
	levelOf map[*lb.Host]int
}

// balancer is an immutable picker for one state of the hosts' health.
type balancer struct {
	// full spreads traffic over priorities by health, as Envoy does.
	full *priority.Picker
	// spill, when set, moves part of a saturated priority's traffic on.
	spill *spillPlan
}

// initBalancing chooses the fast path or builds the plan and the first
// balancer.
func (c *Cluster) initBalancing(opts lb.Options) {
	sc := c.Spec
	p := newPlan(sc, c.Hosts, opts, true)
	if len(p.levels) <= 1 && len(p.source) == 0 && c.detector == nil && !sc.LocalityWeighted {
		c.fast = lb.New(sc.LB, c.Hosts, opts)
		return
	}
	c.plan = p
	c.bal.Store(c.newBalancer())
}

// Pick chooses the host for a request, or returns nil when no host is
// eligible (the caller answers 503 "no healthy upstream"). It is the hot
// path: no lock, and one atomic load beyond the host picker itself.
func (c *Cluster) Pick(r *lb.Request) *lb.Host {
	if c.fast != nil {
		return c.fast.Pick(r)
	}
	b := c.bal.Load()
	if b.spill == nil {
		return b.full.Pick(r)
	}
	return b.spill.pick(r, b.full, c.rnd, c.spill)
}

// rebuild replaces the balancer after a host's health changed. It is the
// slow path, taken once per ejection or return, never per request.
func (c *Cluster) rebuild() {
	if c.plan == nil {
		return
	}
	c.rebuildMu.Lock()
	defer c.rebuildMu.Unlock()
	c.bal.Store(c.newBalancer())
}

func (c *Cluster) newBalancer() *balancer {
	b := &balancer{full: priority.New(c.plan.levels, c.health, c.plan.opts)}
	if sp := c.Spec.Spillover; sp != nil && len(c.plan.levels) > 1 {
		b.spill = newSpillPlan(c.plan, b.full, c.health, sp.MaxActiveRequestsPerEndpoint)
	}
	return b
}

// health is a host's health for balancing: what its source reports,
// then outlier detection. An ejected host counts as unhealthy, so
// ejections drive priority failover and panic like source health does.
func (c *Cluster) health(h *lb.Host) priority.Health {
	if hs, ok := c.plan.source[h]; ok {
		return hs
	}
	if c.detector != nil && c.detector.Ejected(h) {
		return priority.Unhealthy
	}
	return priority.Healthy
}

// sourceHealth maps a source's endpoint health to the balancer's. Draining
// endpoints finish what they have but take no new requests, so for
// balancing they are as unhealthy as failing ones.
func sourceHealth(h snapshot.EndpointHealth) priority.Health {
	switch h {
	case snapshot.Unhealthy, snapshot.Draining:
		return priority.Unhealthy
	}
	return priority.Healthy
}

// overprovisioning is Envoy's default factor; Istio never sets another.
const overprovisioning = priority.DefaultOverprovisioningFactor

// newPlan groups a cluster's endpoints into priority levels (compacted to
// 0..K, in ascending order of Endpoint.Priority) and, within a level, into
// localities sorted by name. A locality's weight is its endpoints'
// LocalityWeight, which translate gives every endpoint of the locality.
// withPickers builds each locality's host picker ahead, for serving; a
// plan made only to be described goes without.
func newPlan(sc *snapshot.Cluster, hosts []*lb.Host, opts lb.Options, withPickers bool) *plan {
	type groupKey struct {
		priority uint32
		locality string
	}
	p := &plan{source: map[*lb.Host]priority.Health{}, levelOf: make(map[*lb.Host]int, len(hosts))}
	groups := map[groupKey]*priority.Group{}
	var keys []groupKey
	seen := make(map[*lb.Host]bool, len(hosts))
	for i, ep := range sc.Endpoints {
		h := hosts[i]
		if seen[h] {
			continue
		}
		seen[h] = true
		if hs := sourceHealth(ep.Health); hs != priority.Healthy {
			p.source[h] = hs
		}
		k := groupKey{ep.Priority, ep.Locality.String()}
		g := groups[k]
		if g == nil {
			g = &priority.Group{Locality: k.locality, Weight: ep.LocalityWeight}
			groups[k] = g
			keys = append(keys, k)
		}
		g.Hosts = append(g.Hosts, h)
	}
	slices.SortFunc(keys, func(a, b groupKey) int {
		return cmp.Or(cmp.Compare(a.priority, b.priority), cmp.Compare(a.locality, b.locality))
	})
	for i, k := range keys {
		if i == 0 || k.priority != keys[i-1].priority {
			p.levels = append(p.levels, priority.Priority{})
		}
		g := groups[k]
		for _, h := range g.Hosts {
			p.levelOf[h] = len(p.levels) - 1
		}
		// Built once per snapshot and reused by every rebuild while all
		// of the locality's hosts are eligible, which keeps ring-hash
		// tables and round-robin positions across health changes
		// elsewhere in the cluster.
		if withPickers {
			g.Picker = lb.New(sc.LB, g.Hosts, opts)
		}
		lvl := &p.levels[len(p.levels)-1]
		lvl.Groups = append(lvl.Groups, *g)
	}
	p.opts = priority.Options{
		Overprovisioning: overprovisioning,
		PanicThreshold:   int(min(sc.PanicThreshold, 100)),
		LocalityWeighted: sc.LocalityWeighted,
		Rand:             opts.Rand,
		NewPicker: func(hs []*lb.Host) lb.Picker {
			return lb.New(sc.LB, hs, opts)
		},
	}
	return p
}

// globalRand draws from math/rand/v2's goroutine-safe global source.
type globalRand struct{}

func (globalRand) IntN(n int) int { return rand.IntN(n) }
func (globalRand) Uint64() uint64 { return rand.Uint64() }
