package lb

import "math/bits"

func newLeastRequest(hosts []*Host, rnd Rand) Picker {
	ws, equal := weightsOf(hosts)
	if equal {
		return &twoChoices{hosts: hosts, rnd: rnd}
	}
	return &weightedLeastRequest{hosts: hosts, rnd: rnd, table: newAliasTable(ws)}
}

// twoChoices is least request over equally weighted hosts, Envoy's
// default choice_count of 2: draw two distinct hosts at random and take
// the one with fewer requests in flight (the first drawn on a tie, which
// is itself random). Sampling two rather than scanning all keeps Pick
// O(1) and avoids herding every gateway onto the one idlest host.
type twoChoices struct {
	hosts []*Host
	rnd   Rand
}

func (p *twoChoices) draw() *Host {
	// One random value yields both indexes: the high word of u·n is the
	// first, and the low word, the fraction left over within it, is
	// scaled again for the second. The bias is below n²/2^64.
	n := uint64(len(p.hosts))
	i, frac := bits.Mul64(p.rnd.Uint64(), n)
	j, _ := bits.Mul64(frac, n-1)
	if j >= i {
		j++
	}
	a, b := p.hosts[i], p.hosts[j]
	if b.Active() < a.Active() {
		return b
	}
	return a
}

func (p *twoChoices) Pick(r *Request) *Host {
	h := p.draw()
	if excludes(r) && r.Excluded(h) {
		return avoidExcluded(p, r, h, p.hosts, p.rnd)
	}
	return h
}

// weightedLeastRequest is least request over hosts of differing weights.
//
// Envoy gives each host the effective weight weight/(active+1) and picks
// by EDF over those, which needs a shared, locked scheduler that is
// rebuilt as counts change. This is a lock-free approximation: draw two
// hosts with probability proportional to weight (independently, so both
// may be the same host) and take the one with the lower active/weight,
// the first on a tie.
//
//   - With no requests in flight every comparison ties, so the first draw
//     wins and traffic follows the weights exactly, as in Envoy.
//   - A host carrying more than its weight's share of requests loses
//     comparisons and gets less new traffic, the effect of Envoy's
//     1/(active+1) factor. The +1 is dropped: it would make the heavier
//     host win every idle comparison and skew traffic past the weights.
//   - Hosts loaded in proportion to their weights tie, so the weights
//     keep holding under steady load.
type weightedLeastRequest struct {
	hosts []*Host
	rnd   Rand
	table aliasTable
}

func (p *weightedLeastRequest) draw() *Host {
	a := p.hosts[p.table.sample(p.rnd.Uint64())]
	b := p.hosts[p.table.sample(p.rnd.Uint64())]
	if lessLoaded(b, a) {
		return b
	}
	return a
}

func (p *weightedLeastRequest) Pick(r *Request) *Host {
	h := p.draw()
	if excludes(r) && r.Excluded(h) {
		return avoidExcluded(p, r, h, p.hosts, p.rnd)
	}
	return h
}

// lessLoaded reports whether a.Active()/a.weight < b.Active()/b.weight,
// cross-multiplied in 128 bits so it is exact and division-free.
func lessLoaded(a, b *Host) bool {
	ah, al := bits.Mul64(activeOf(a), weightOf(b))
	bh, bl := bits.Mul64(activeOf(b), weightOf(a))
	if ah != bh {
		return ah < bh
	}
	return al < bl
}

// activeOf reads a host's in-flight count, clamping the negative values an
// unbalanced End could leave so they cannot wrap to huge loads.
func activeOf(h *Host) uint64 {
	return uint64(max(h.Active(), 0))
}
