package priority

import (
	"math/rand/v2"

	"github.com/meshgate/meshgate/internal/lb"
	"github.com/meshgate/meshgate/internal/snapshot"
)

// Group is one locality of a priority level: its hosts and its weight.
type Group struct {
	// Locality is "region/zone/subzone", for the admin table only.
	Locality string
	// Weight is the locality's load-balancing weight. It matters only
	// when Options.LocalityWeighted is set; a weight of 0 then gives the
	// locality no traffic, as in Envoy.
	Weight uint32
	// Hosts are the locality's endpoints; nil entries are ignored.
	Hosts []*lb.Host
	// Picker, when non-nil, is a picker the caller already built over
	// exactly Hosts. New reuses it whenever every host of the group is
	// eligible for the traffic it would serve, which is the common case:
	// a health change elsewhere in the cluster then does not rebuild this
	// locality's ring or table, nor reset its round-robin or least-request
	// state. Otherwise New builds a picker over the eligible subset.
	Picker lb.Picker
}

// Priority is one priority level: its localities.
type Priority struct {
	Groups []Group
}

// Health is a host's health as the load balancer sees it.
type Health uint8

// Host health values. The zero value is Healthy.
const (
	// Healthy hosts receive traffic normally. Envoy treats EDS HEALTHY and
	// UNKNOWN alike; a host ejected by outlier detection is not healthy.
	Healthy Health = iota
	// Degraded hosts receive traffic only when healthy capacity runs out.
	Degraded
	// Unhealthy hosts receive traffic only while their priority is in
	// panic.
	Unhealthy
)

var healthNames = [...]string{Healthy: "HEALTHY", Degraded: "DEGRADED", Unhealthy: "UNHEALTHY"}

// String returns the Envoy-style name: HEALTHY, DEGRADED or UNHEALTHY.
func (h Health) String() string {
	if int(h) < len(healthNames) {
		return healthNames[h]
	}
	return "UNKNOWN"
}

// MarshalText makes Health appear by name in JSON.
func (h Health) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// HealthFunc reports a host's health. New calls it once per host while
// building; a nil HealthFunc treats every host as healthy.
type HealthFunc func(*lb.Host) Health

// Options tunes a Picker.
type Options struct {
	// Overprovisioning is the overprovisioning factor; 0 selects
	// DefaultOverprovisioningFactor.
	Overprovisioning float64
	// PanicThreshold is the healthy panic threshold in percent. The zero
	// value disables panic, which is what Istio programs whenever a
	// DestinationRule has outlierDetection (minHealthPercent defaults to
	// 0); clusters without outlierDetection run with
	// DefaultPanicThreshold, which the caller must set explicitly.
	PanicThreshold int
	// LocalityWeighted chooses a locality by effective weight before the
	// host (Envoy locality_weighted_lb_config, which Istio sets when
	// locality failover or distribute is in effect). Otherwise the host is
	// chosen among all eligible hosts of the priority.
	LocalityWeighted bool
	// Rand is the source of randomness for the priority and locality
	// draws (and for the default inner pickers); it must be safe for
	// concurrent use when Pick is. nil selects math/rand/v2's global
	// generator, which does not lock.
	Rand lb.Rand
	// NewPicker builds the host-level picker over a set of eligible hosts
	// (a locality's, or a whole priority's). nil selects lb.New with the
	// zero policy, LEAST_REQUEST, Istio's default.
	NewPicker func(hosts []*lb.Host) lb.Picker
}

// Picker chooses a host as Envoy does: priority by the load table, then
// healthy or degraded tier, then locality by effective weight (if
// enabled), then host by the inner picker. It is immutable; build a new one
// when health or membership changes.
type Picker struct {
	rnd   lb.Rand
	slots []slot
	load  Load
	table Table
}

// slot is one non-empty row of the cumulative load table: percentiles
// below upTo (and at or above the previous slot's upTo) go to target.
type slot struct {
	upTo   uint64
	target *target
}

// target is where the traffic of one priority and tier goes: either a
// single picker over the eligible hosts or a weighted choice of localities.
type target struct {
	flat  lb.Picker
	locs  []weightedLocality
	total uint64
}

// weightedLocality is a locality with its cumulative scaled weight.
type weightedLocality struct {
	upTo   uint64
	picker lb.Picker
}

// New builds a Picker over the priority levels (index = priority, 0 is
// preferred). Health is read once per host, here. New returns the concrete
// type so callers reach Load and Table; it satisfies lb.Picker.
func New(levels []Priority, health HealthFunc, opts Options) *Picker {
	if health == nil {
		health = func(*lb.Host) Health { return Healthy }
	}
	rnd := opts.Rand
	if rnd == nil {
		rnd = globalRand{}
	}
	newPicker := opts.NewPicker
	if newPicker == nil {
		inner := lb.Options{Rand: opts.Rand}
		newPicker = func(hosts []*lb.Host) lb.Picker {
			return lb.New(snapshot.LBPolicy{}, hosts, inner)
		}
	}
	b := builder{
		newPicker: newPicker,
		ovp:       float64(overprovisioningPercent(opts.Overprovisioning)) / 100,
		weighted:  opts.LocalityWeighted,
	}
	prios := make([]builtPriority, len(levels))
	census := make([]Level, len(levels))
	for p, lvl := range levels {
		prios[p] = classify(lvl, health)
		census[p] = prios[p].census()
	}
	load := ComputeLoad(census, opts.Overprovisioning, opts.PanicThreshold)

	pk := &Picker{rnd: rnd, load: load}
	panicTargets := make([]*target, len(prios))
	add := func(p int, share int, tier Health) {
		if share <= 0 {
			return
		}
		var t *target
		if load.Panic[p] {
			// Envoy: a priority in panic balances over all of its hosts,
			// without locality weighting (hostSourceToUse returns
			// AllHosts before looking at localities).
			if panicTargets[p] == nil {
				panicTargets[p] = b.flat(prios[p], allTiers)
			}
			t = panicTargets[p]
		} else {
			t = b.tier(prios[p], tier)
		}
		var prev uint64
		if n := len(pk.slots); n > 0 {
			prev = pk.slots[n-1].upTo
		}
		pk.slots = append(pk.slots, slot{upTo: prev + uint64(share), target: t})
	}
	// Healthy rows for every priority come before any degraded row, the
	// order in which Envoy's choosePriority walks the two tables.
	for p := range prios {
		add(p, load.Healthy[p], Healthy)
	}
	for p := range prios {
		add(p, load.Degraded[p], Degraded)
	}
	pk.table = b.table(prios, load, opts)
	return pk
}

// Pick chooses a host for r, or returns nil when no host is eligible (the
// caller answers 503, response flag UH). It takes no lock and does not
// allocate.
//
// With a consistent-hash request the priority is chosen from the hash
// (hash mod 100 against the cumulative load, as Envoy's thread-aware
// balancers do) and so is the locality, so one key keeps landing on the
// same host while the table is unchanged. Otherwise both draws are random.
func (p *Picker) Pick(r *lb.Request) *lb.Host {
	if len(p.slots) == 0 {
		return nil
	}
	hashed := r != nil && r.HasHash
	var v uint64
	if hashed {
		v = r.Hash % 100
	} else {
		v = uint64(p.rnd.IntN(100))
	}
	t := p.slots[len(p.slots)-1].target
	for i := range p.slots {
		if v < p.slots[i].upTo {
			t = p.slots[i].target
			break
		}
	}
	if len(t.locs) == 0 {
		return t.flat.Pick(r)
	}
	var u uint64
	if hashed {
		// Remix so the locality draw is independent of the hash's
		// residue mod 100, which already decided the priority.
		u = mix64(r.Hash)
	} else {
		u = p.rnd.Uint64()
	}
	x := u % t.total
	lo, hi := 0, len(t.locs)-1
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if x < t.locs[m].upTo {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return t.locs[lo].picker.Pick(r)
}

// Load returns a copy of the priority load the Picker was built with.
func (p *Picker) Load() Load { return p.load.clone() }

// mix64 is the SplitMix64 finaliser, a bijection that spreads every input
// bit over the output.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// globalRand draws from math/rand/v2's per-thread runtime state.
type globalRand struct{}

func (globalRand) IntN(n int) int { return rand.IntN(n) }
func (globalRand) Uint64() uint64 { return rand.Uint64() }

// emptyPicker holds no host.
type emptyPicker struct{}

func (emptyPicker) Pick(*lb.Request) *lb.Host { return nil }
