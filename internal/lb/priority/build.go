package priority

import "github.com/meshgate/meshgate/internal/lb"

// allTiers selects every host regardless of health: the host set of a
// priority in panic.
const allTiers Health = 255

// builtGroup is a Group with nil hosts dropped and each host's health read.
type builtGroup struct {
	group  Group
	health []Health
	count  [Unhealthy + 1]int
}

// builtPriority is a priority level with its hosts classified.
type builtPriority struct {
	groups []builtGroup
}

// classify reads the health of every host of a level, once.
func classify(lvl Priority, health HealthFunc) builtPriority {
	bp := builtPriority{groups: make([]builtGroup, 0, len(lvl.Groups))}
	for _, g := range lvl.Groups {
		bg := builtGroup{group: g}
		bg.group.Hosts = make([]*lb.Host, 0, len(g.Hosts))
		for _, h := range g.Hosts {
			if h == nil {
				continue
			}
			hs := health(h)
			if hs > Unhealthy {
				hs = Unhealthy
			}
			bg.group.Hosts = append(bg.group.Hosts, h)
			bg.health = append(bg.health, hs)
			bg.count[hs]++
		}
		bp.groups = append(bp.groups, bg)
	}
	return bp
}

// census counts the level's hosts by health (hosts, not weights: see Level).
func (bp builtPriority) census() Level {
	var l Level
	for _, g := range bp.groups {
		l.Total += len(g.group.Hosts)
		l.Healthy += g.count[Healthy]
		l.Degraded += g.count[Degraded]
	}
	return l
}

// available is how many of the group's hosts serve the tier.
func (g *builtGroup) available(tier Health) int {
	if tier == allTiers {
		return len(g.group.Hosts)
	}
	return g.count[tier]
}

// eligible returns the group's hosts serving the tier, in order.
func (g *builtGroup) eligible(tier Health, dst []*lb.Host) []*lb.Host {
	for i, h := range g.group.Hosts {
		if tier == allTiers || g.health[i] == tier {
			dst = append(dst, h)
		}
	}
	return dst
}

// builder turns classified levels into targets.
type builder struct {
	newPicker func([]*lb.Host) lb.Picker
	ovp       float64
	weighted  bool
}

// picker returns a picker over the group's hosts serving the tier, reusing
// the caller's picker when the whole group serves it.
func (b *builder) picker(g *builtGroup, tier Health) lb.Picker {
	n := g.available(tier)
	if n == 0 {
		return emptyPicker{}
	}
	if g.group.Picker != nil && n == len(g.group.Hosts) {
		return g.group.Picker
	}
	return b.newPicker(g.eligible(tier, make([]*lb.Host, 0, n)))
}

// flat is a target choosing among every host of the level serving the
// tier, without regard to locality.
func (b *builder) flat(bp builtPriority, tier Health) *target {
	var only *builtGroup
	n := 0
	for i := range bp.groups {
		if k := bp.groups[i].available(tier); k > 0 {
			if n == 0 {
				only = &bp.groups[i]
			} else {
				only = nil
			}
			n += k
		}
	}
	switch {
	case n == 0:
		return &target{flat: emptyPicker{}}
	case only != nil:
		return &target{flat: b.picker(only, tier)}
	}
	hosts := make([]*lb.Host, 0, n)
	for i := range bp.groups {
		hosts = bp.groups[i].eligible(tier, hosts)
	}
	return &target{flat: b.newPicker(hosts)}
}

// tier is the target for one tier (Healthy or Degraded) of a level not in
// panic: localities by effective weight when locality weighting is on,
// else flat. Envoy falls back to the flat host set too when no locality
// has a non-zero effective weight.
func (b *builder) tier(bp builtPriority, tier Health) *target {
	if !b.weighted {
		return b.flat(bp, tier)
	}
	t := &target{}
	for i := range bp.groups {
		g := &bp.groups[i]
		w := scaledWeight(effectiveWeight(LocalityHealth{
			Weight: g.group.Weight, Total: len(g.group.Hosts), Available: g.available(tier),
		}, b.ovp))
		if w == 0 {
			continue
		}
		t.total += w
		t.locs = append(t.locs, weightedLocality{upTo: t.total, picker: b.picker(g, tier)})
	}
	if t.total == 0 {
		return b.flat(bp, tier)
	}
	return t
}
