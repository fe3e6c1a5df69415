package priority

// Table describes a Picker for the admin API: priorities, their load and
// panic state, their localities and hosts with health. It is plain data and
// marshals to JSON as is.
type Table struct {
	OverprovisioningFactor float64         `json:"overprovisioningFactor"`
	PanicThreshold         int             `json:"panicThreshold"`
	LocalityWeighted       bool            `json:"localityWeighted"`
	NormalizedTotalHealth  int             `json:"normalizedTotalHealth"`
	Priorities             []PriorityEntry `json:"priorities"`
}

// PriorityEntry is one priority level of a Table.
type PriorityEntry struct {
	Priority int `json:"priority"`
	// Hosts, Healthy and Degraded count the level's hosts.
	Hosts    int `json:"hosts"`
	Healthy  int `json:"healthy"`
	Degraded int `json:"degraded"`
	// HealthScore and DegradedScore are min(100, overprov×count/hosts).
	HealthScore   int `json:"healthScore"`
	DegradedScore int `json:"degradedScore"`
	// HealthyLoad and DegradedLoad are the percent of requests sent to
	// the level's healthy and degraded hosts.
	HealthyLoad  int  `json:"healthyLoad"`
	DegradedLoad int  `json:"degradedLoad"`
	Panic        bool `json:"panic"`
	// Localities lists the level's groups in the order given to New.
	Localities []LocalityEntry `json:"localities"`
}

// LocalityEntry is one locality of a priority level.
type LocalityEntry struct {
	Locality string `json:"locality"`
	Weight   uint32 `json:"weight"`
	// EffectiveWeight is weight × min(1, overprov × healthy/hosts), the
	// weight the locality has for healthy traffic.
	EffectiveWeight float64 `json:"effectiveWeight"`
	// Share is the percent of the level's healthy traffic the locality
	// receives. It is set only when localities are weighted and the level
	// is not in panic; otherwise the host picker spreads traffic over the
	// whole level.
	Share float64     `json:"share,omitempty"`
	Hosts []HostEntry `json:"hosts"`
}

// HostEntry is one host with its health as the Picker saw it.
type HostEntry struct {
	Address string `json:"address"`
	Weight  uint32 `json:"weight"`
	Health  Health `json:"health"`
}

// Table returns a description of the Picker. The result is a fresh copy
// the caller may keep or modify.
func (p *Picker) Table() Table {
	t := p.table
	t.Priorities = make([]PriorityEntry, len(p.table.Priorities))
	for i, pe := range p.table.Priorities {
		pe.Localities = make([]LocalityEntry, len(pe.Localities))
		for j, le := range p.table.Priorities[i].Localities {
			le.Hosts = append([]HostEntry(nil), le.Hosts...)
			pe.Localities[j] = le
		}
		t.Priorities[i] = pe
	}
	return t
}

// table builds the description once, at New.
func (b *builder) table(prios []builtPriority, load Load, opts Options) Table {
	ovpPercent := overprovisioningPercent(opts.Overprovisioning)
	t := Table{
		OverprovisioningFactor: float64(ovpPercent) / 100,
		PanicThreshold:         clampPercent(opts.PanicThreshold),
		LocalityWeighted:       opts.LocalityWeighted,
		NormalizedTotalHealth:  load.NormalizedTotalHealth,
		Priorities:             make([]PriorityEntry, len(prios)),
	}
	for p, bp := range prios {
		c := sanitize(bp.census())
		pe := PriorityEntry{
			Priority:      p,
			Hosts:         c.Total,
			Healthy:       c.Healthy,
			Degraded:      c.Degraded,
			HealthScore:   score(ovpPercent, c.Healthy, c.Total),
			DegradedScore: score(ovpPercent, c.Degraded, c.Total),
			HealthyLoad:   load.Healthy[p],
			DegradedLoad:  load.Degraded[p],
			Panic:         load.Panic[p],
			Localities:    make([]LocalityEntry, len(bp.groups)),
		}
		var sum float64
		for i := range bp.groups {
			g := &bp.groups[i]
			le := LocalityEntry{
				Locality: g.group.Locality,
				Weight:   g.group.Weight,
				EffectiveWeight: effectiveWeight(LocalityHealth{
					Weight: g.group.Weight, Total: len(g.group.Hosts), Available: g.count[Healthy],
				}, b.ovp),
				Hosts: make([]HostEntry, len(g.group.Hosts)),
			}
			for j, h := range g.group.Hosts {
				le.Hosts[j] = HostEntry{Address: h.Address, Weight: h.Weight, Health: g.health[j]}
			}
			sum += le.EffectiveWeight
			pe.Localities[i] = le
		}
		if opts.LocalityWeighted && !pe.Panic && sum > 0 {
			for i := range pe.Localities {
				pe.Localities[i].Share = 100 * pe.Localities[i].EffectiveWeight / sum
			}
		}
		t.Priorities[p] = pe
	}
	return t
}
