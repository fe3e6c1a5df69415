package upstream

import (
	"sync/atomic"

	"github.com/meshgate/meshgate/internal/lb"
	"github.com/meshgate/meshgate/internal/lb/priority"
)

// Load-based spillover (a meshgate extension; see docs/locality.md).
//
// Envoy moves traffic to the next priority only as the closer one loses
// health. Spillover also moves it when the closer one is busy: with
// T = MaxActiveRequestsPerEndpoint, n the healthy hosts of priority p and
// A the requests in flight to them, p is saturated when A > T·n, and a
// request the health-based table sends to p goes on to the next priority
// with healthy hosts with probability
//
//	spill(p) = min(1, (A − T·n) / (T·n))
//
// so nothing spills at or below the threshold, and everything does at
// twice it. The rule applies again at the priority spilled to, so a
// saturated P1 passes load on to P2. Because in-flight requests drain
// while new ones go elsewhere, the closer priority settles between T·n
// and 2·T·n requests in flight, and the share that spills grows with the
// offered load.
//
// A is summed from the hosts' own in-flight counters at pick time, which
// costs one atomic load per healthy host of the priority and nothing at
// all for clusters without spillover.

// spillPlan is the spillover part of one balancer.
type spillPlan struct {
	limit int64
	// upTo[p] is the cumulative percent of requests the health-based
	// table sends to priorities 0..p.
	upTo   []int
	levels []spillLevel
}

// spillLevel is one priority as spillover sees it.
type spillLevel struct {
	// picker chooses within this priority alone, with the panic state
	// the full table gave the priority.
	picker *priority.Picker
	// healthy are the hosts whose in-flight requests measure saturation.
	healthy []*lb.Host
	// next is the closest later priority with a healthy host, or -1.
	next int
}

// maxCountedLevels bounds the per-priority spill counters; spills from
// deeper priorities are counted in the last one.
const maxCountedLevels = 8

// spillCounters outlive snapshots and balancers: per cluster name, the
// requests spillover decided on and how many left each priority.
type spillCounters struct {
	requests atomic.Uint64
	spilled  [maxCountedLevels]atomic.Uint64
}

func newSpillPlan(p *plan, full *priority.Picker, health priority.HealthFunc, limit uint32) *spillPlan {
	load := full.Load()
	sp := &spillPlan{
		limit:  int64(limit),
		upTo:   make([]int, len(p.levels)),
		levels: make([]spillLevel, len(p.levels)),
	}
	sum := 0
	for i, lvl := range p.levels {
		sum += load.Healthy[i] + load.Degraded[i]
		sp.upTo[i] = sum
		opts := p.opts
		// A single level computes no panic of its own that matches the
		// cluster's (panic is ignored while the cluster's total health is
		// 100), so impose the full table's verdict: threshold 100 puts
		// a partly healthy level in panic, 0 keeps it out.
		opts.PanicThreshold = 0
		if load.Panic[i] {
			opts.PanicThreshold = 100
		}
		sl := spillLevel{picker: priority.New([]priority.Priority{lvl}, health, opts), next: -1}
		for _, g := range lvl.Groups {
			for _, h := range g.Hosts {
				if health(h) == priority.Healthy {
					sl.healthy = append(sl.healthy, h)
				}
			}
		}
		sp.levels[i] = sl
	}
	next := -1
	for i := len(sp.levels) - 1; i >= 0; i-- {
		sp.levels[i].next = next
		if len(sp.levels[i].healthy) > 0 {
			next = i
		}
	}
	return sp
}

// pick draws the priority from the health-based table as Envoy does (the
// hash's residue for consistent-hash requests), lets saturated priorities
// pass the request on, and picks the host within the priority reached.
func (sp *spillPlan) pick(r *lb.Request, full *priority.Picker, rnd lb.Rand, cnt *spillCounters) *lb.Host {
	var v int
	if r != nil && r.HasHash {
		v = int(r.Hash % 100)
	} else {
		v = rnd.IntN(100)
	}
	p := -1
	for i, up := range sp.upTo {
		if v < up {
			p = i
			break
		}
	}
	if p < 0 {
		// No load anywhere: the full picker knows whether any host is
		// left (it returns nil when none is).
		return full.Pick(r)
	}
	cnt.requests.Add(1)
	from := p
	for {
		l := &sp.levels[p]
		if l.next < 0 || !sp.spills(l, rnd) {
			break
		}
		p = l.next
	}
	if p != from {
		cnt.spilled[min(from, maxCountedLevels-1)].Add(1)
	}
	return sp.levels[p].picker.Pick(r)
}

// spills draws whether a request leaves level l: true with probability
// spill(l), exactly, in integers.
func (sp *spillPlan) spills(l *spillLevel, rnd lb.Rand) bool {
	capacity, active := sp.saturation(l)
	if capacity == 0 || active <= capacity {
		return false
	}
	excess := active - capacity
	if excess >= capacity {
		return true
	}
	return rnd.Uint64()%uint64(capacity) < uint64(excess)
}

// saturation returns T·n and the requests in flight to l's healthy hosts.
func (sp *spillPlan) saturation(l *spillLevel) (capacity, active int64) {
	for _, h := range l.healthy {
		active += max(h.Active(), 0)
	}
	return sp.limit * int64(len(l.healthy)), active
}

// probability is spill(l) as a fraction, for the admin API.
func (sp *spillPlan) probability(l *spillLevel) float64 {
	capacity, active := sp.saturation(l)
	if capacity == 0 || active <= capacity || l.next < 0 {
		return 0
	}
	return min(1, float64(active-capacity)/float64(capacity))
}
