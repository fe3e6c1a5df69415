package lb

import (
	"sync"
	"sync/atomic"
)

// maxSchedule caps the precomputed weighted round-robin schedule. Entries
// are uint32 host indexes, so the largest schedule is 256 KiB; weight sets
// whose reduced sum is larger (rare: weights must be both large and
// coprime) use edfRoundRobin instead.
const maxSchedule = 1 << 16

// counter is an atomic counter alone on its cache line, so the writes of
// every Pick do not evict the read-only fields that share the picker.
type counter struct {
	_ [64]byte
	n atomic.Uint64
	_ [56]byte
}

// take returns the counter's value and advances it.
func (c *counter) take() uint64 { return c.n.Add(1) - 1 }

func newRoundRobin(hosts []*Host, rnd Rand, scheduleCap int) Picker {
	ws, equal := weightsOf(hosts)
	if equal {
		p := &rotation{hosts: hosts, rnd: rnd}
		// Random starts, here and below, keep gateway replicas, which all
		// see the same endpoint order, from sending their first requests
		// to the same host in lock step.
		p.next.n.Store(uint64(rnd.IntN(len(hosts))))
		return p
	}
	g := ws[0]
	for _, w := range ws[1:] {
		g = gcd(g, w)
	}
	var period uint64
	for i := range ws {
		ws[i] /= g
		period += ws[i]
	}
	if period <= uint64(scheduleCap) {
		e := newEDF(ws)
		sched := make([]uint32, period)
		for i := range sched {
			sched[i] = uint32(e.next())
		}
		p := &scheduled{hosts: hosts, schedule: sched, rnd: rnd}
		p.next.n.Store(uint64(rnd.IntN(len(sched))))
		return p
	}
	p := &edfRoundRobin{hosts: hosts, edf: newEDF(ws), rnd: rnd}
	// Start a random number of turns in, for the same reason as above.
	for range rnd.IntN(len(hosts)) {
		p.edf.next()
	}
	return p
}

// rotation is round robin over equally weighted hosts: one atomic add per
// Pick, no lock.
type rotation struct {
	hosts []*Host
	rnd   Rand
	next  counter
}

func (p *rotation) draw() *Host {
	return p.hosts[p.next.take()%uint64(len(p.hosts))]
}

func (p *rotation) Pick(r *Request) *Host {
	h := p.draw()
	if excludes(r) && r.Excluded(h) {
		return avoidExcluded(p, r, h, p.hosts, p.rnd)
	}
	return h
}

// scheduled is smooth weighted round robin from a precomputed schedule:
// one period of the EDF order over the gcd-reduced weights. Walking it
// with an atomic index gives exactly Envoy's weighted proportions with
// no lock.
type scheduled struct {
	hosts    []*Host
	schedule []uint32
	rnd      Rand
	next     counter
}

func (p *scheduled) draw() *Host {
	return p.hosts[p.schedule[p.next.take()%uint64(len(p.schedule))]]
}

func (p *scheduled) Pick(r *Request) *Host {
	h := p.draw()
	if excludes(r) && r.Excluded(h) {
		return avoidExcluded(p, r, h, p.hosts, p.rnd)
	}
	return h
}

// edfRoundRobin runs the EDF scheduler live, under a mutex, for weight
// sets whose schedule would exceed maxSchedule. It keeps the exact
// weighted order; a weighted random fallback would be lock-free but lose
// the smooth interleaving round robin promises.
type edfRoundRobin struct {
	hosts []*Host
	rnd   Rand
	mu    sync.Mutex
	edf   *edf
}

func (p *edfRoundRobin) draw() *Host {
	p.mu.Lock()
	i := p.edf.next()
	p.mu.Unlock()
	return p.hosts[i]
}

func (p *edfRoundRobin) Pick(r *Request) *Host {
	h := p.draw()
	if excludes(r) && r.Excluded(h) {
		return avoidExcluded(p, r, h, p.hosts, p.rnd)
	}
	return h
}
