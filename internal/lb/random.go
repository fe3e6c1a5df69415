package lb

func newRandom(hosts []*Host, rnd Rand) Picker {
	ws, equal := weightsOf(hosts)
	if equal {
		return &uniform{hosts: hosts, rnd: rnd}
	}
	return &weightedRandom{hosts: hosts, rnd: rnd, table: newAliasTable(ws)}
}

// uniform picks among equally weighted hosts with equal probability.
type uniform struct {
	hosts []*Host
	rnd   Rand
}

func (p *uniform) draw() *Host { return p.hosts[p.rnd.IntN(len(p.hosts))] }

func (p *uniform) Pick(r *Request) *Host {
	h := p.draw()
	if excludes(r) && r.Excluded(h) {
		return avoidExcluded(p, r, h, p.hosts, p.rnd)
	}
	return h
}

// weightedRandom picks a host with probability weight/sum(weights), in
// constant time through an alias table.
type weightedRandom struct {
	hosts []*Host
	rnd   Rand
	table aliasTable
}

func (p *weightedRandom) draw() *Host { return p.hosts[p.table.sample(p.rnd.Uint64())] }

func (p *weightedRandom) Pick(r *Request) *Host {
	h := p.draw()
	if excludes(r) && r.Excluded(h) {
		return avoidExcluded(p, r, h, p.hosts, p.rnd)
	}
	return h
}
