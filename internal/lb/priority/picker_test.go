package priority

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/meshgate/meshgate/internal/lb"
	"github.com/meshgate/meshgate/internal/snapshot"
)

// mkHosts builds n hosts named "<prefix>-<i>".
func mkHosts(prefix string, n int) []*lb.Host {
	hs := make([]*lb.Host, n)
	for i := range hs {
		hs[i] = lb.NewHost(fmt.Sprintf("%s-%d", prefix, i), 1)
	}
	return hs
}

// healthMap is a HealthFunc over an explicit map; absent hosts are healthy.
type healthMap map[*lb.Host]Health

func (m healthMap) fn(h *lb.Host) Health { return m[h] }

// mark sets the health of hosts[from:to].
func (m healthMap) mark(hosts []*lb.Host, from, to int, hs Health) {
	for _, h := range hosts[from:to] {
		m[h] = hs
	}
}

func seeded() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }

// count picks n times and tallies the hosts chosen.
func count(p lb.Picker, n int, r *lb.Request) map[*lb.Host]int {
	got := make(map[*lb.Host]int)
	for range n {
		got[p.Pick(r)]++
	}
	return got
}

// sum adds the tallies of the given hosts.
func sum(tally map[*lb.Host]int, hosts []*lb.Host) int {
	n := 0
	for _, h := range hosts {
		n += tally[h]
	}
	return n
}

func within(t *testing.T, what string, got, n int, wantPct, tolPct float64) {
	t.Helper()
	pct := 100 * float64(got) / float64(n)
	if pct < wantPct-tolPct || pct > wantPct+tolPct {
		t.Errorf("%s: %.2f%%, want %.1f%% ± %.1fpp", what, pct, wantPct, tolPct)
	}
}

func TestPickerPriorityDistribution(t *testing.T) {
	// P0 50% healthy, P1 healthy: P0 takes 50 × 1.4 = 70% (priority.rst).
	p0, p1 := mkHosts("p0", 10), mkHosts("p1", 10)
	hm := healthMap{}
	hm.mark(p0, 5, 10, Unhealthy)
	pk := New([]Priority{{Groups: []Group{{Hosts: p0}}}, {Groups: []Group{{Hosts: p1}}}},
		hm.fn, Options{Rand: seeded(), PanicThreshold: DefaultPanicThreshold})
	if ld := pk.Load(); ld.Healthy[0] != 70 || ld.Healthy[1] != 30 {
		t.Fatalf("load %+v, want 70/30", ld)
	}
	const n = 100000
	tally := count(pk, n, nil)
	within(t, "P0 share", sum(tally, p0), n, 70, 1)
	if got := sum(tally, p0[5:]); got != 0 {
		t.Errorf("unhealthy P0 hosts picked %d times", got)
	}
	if tally[nil] != 0 {
		t.Errorf("nil picked %d times", tally[nil])
	}
}

func TestPickerLocalityWeights(t *testing.T) {
	a, b := mkHosts("a", 4), mkHosts("b", 4)
	groups := []Group{{Locality: "r/a", Weight: 70, Hosts: a}, {Locality: "r/b", Weight: 30, Hosts: b}}
	const n = 100000

	pk := New([]Priority{{Groups: groups}}, nil, Options{Rand: seeded(), LocalityWeighted: true})
	tally := count(pk, n, nil)
	within(t, "locality a", sum(tally, a), n, 70, 1.5)
	within(t, "locality b", sum(tally, b), n, 30, 1.5)

	// Half of a unhealthy: effective weight 70 × min(1, 1.4 × 0.5) = 49
	// against 30, a share of 62.03% (locality_weight.rst).
	hm := healthMap{}
	hm.mark(a, 0, 2, Unhealthy)
	pk = New([]Priority{{Groups: groups}}, hm.fn, Options{Rand: seeded(), LocalityWeighted: true})
	tally = count(pk, n, nil)
	within(t, "degraded locality a", sum(tally, a), n, 100*49.0/79, 1.5)
	if got := sum(tally, a[:2]); got != 0 {
		t.Errorf("unhealthy hosts of a picked %d times", got)
	}

	// Without locality weighting the weights are ignored: hosts share
	// the priority's traffic evenly.
	pk = New([]Priority{{Groups: groups}}, nil, Options{Rand: seeded()})
	tally = count(pk, n, nil)
	within(t, "unweighted a", sum(tally, a), n, 50, 1.5)

	// A locality of weight 0 gets nothing while another has weight.
	zero := []Group{{Weight: 0, Hosts: a}, {Weight: 1, Hosts: b}}
	pk = New([]Priority{{Groups: zero}}, nil, Options{Rand: seeded(), LocalityWeighted: true})
	if got := sum(count(pk, 1000, nil), a); got != 0 {
		t.Errorf("weight-0 locality picked %d times", got)
	}
	// Every weight 0: Envoy falls back to the priority's hosts, flat.
	allZero := []Group{{Weight: 0, Hosts: a}, {Weight: 0, Hosts: b}}
	pk = New([]Priority{{Groups: allZero}}, nil, Options{Rand: seeded(), LocalityWeighted: true})
	within(t, "all-zero weights a", sum(count(pk, n, nil), a), n, 50, 1.5)
}

func TestPickerPanic(t *testing.T) {
	// 25%/25% healthy: both priorities in panic, 50/50, and each sends
	// its share to all of its hosts, unhealthy ones included.
	p0, p1 := mkHosts("p0", 4), mkHosts("p1", 4)
	hm := healthMap{}
	hm.mark(p0, 1, 4, Unhealthy)
	hm.mark(p1, 1, 4, Unhealthy)
	levels := []Priority{
		{Groups: []Group{{Weight: 1, Hosts: p0[:2]}, {Weight: 1, Hosts: p0[2:]}}},
		{Groups: []Group{{Weight: 1, Hosts: p1}}},
	}
	pk := New(levels, hm.fn, Options{Rand: seeded(), PanicThreshold: 50, LocalityWeighted: true})
	ld := pk.Load()
	if ld.Healthy[0] != 50 || ld.Healthy[1] != 50 || !ld.Panic[0] || !ld.Panic[1] {
		t.Fatalf("load %+v, want 50/50 both in panic", ld)
	}
	const n = 40000
	tally := count(pk, n, nil)
	for _, h := range append(append([]*lb.Host(nil), p0...), p1...) {
		within(t, "panic host "+h.Address, tally[h], n, 12.5, 1)
	}

	// 5%/65%: only P0 in panic. P0's share goes to all of its hosts, P1's
	// only to P1's healthy hosts.
	p0, p1 = mkHosts("p0", 20), mkHosts("p1", 20)
	hm = healthMap{}
	hm.mark(p0, 1, 20, Unhealthy)
	hm.mark(p1, 13, 20, Unhealthy)
	pk = New([]Priority{{Groups: []Group{{Hosts: p0}}}, {Groups: []Group{{Hosts: p1}}}},
		hm.fn, Options{Rand: seeded(), PanicThreshold: 50})
	ld = pk.Load()
	if ld.Healthy[0] != 8 || ld.Healthy[1] != 92 || !ld.Panic[0] || ld.Panic[1] {
		t.Fatalf("load %+v, want 8/92 with P0 in panic", ld)
	}
	tally = count(pk, 100000, nil)
	if got := sum(tally, p0[1:]); got == 0 {
		t.Error("unhealthy hosts of the panicking P0 received no traffic")
	}
	if got := sum(tally, p1[13:]); got != 0 {
		t.Errorf("unhealthy hosts of P1 (not in panic) picked %d times", got)
	}
}

func TestPickerNothingEligible(t *testing.T) {
	hs := mkHosts("h", 3)
	hm := healthMap{}
	hm.mark(hs, 0, 3, Unhealthy)
	pk := New([]Priority{{Groups: []Group{{Hosts: hs}}}}, hm.fn, Options{Rand: seeded()})
	if h := pk.Pick(nil); h != nil {
		t.Errorf("all unhealthy, panic 0: picked %s, want nil", h.Address)
	}
	if h := pk.Pick(&lb.Request{HasHash: true, Hash: 42}); h != nil {
		t.Errorf("all unhealthy, panic 0, hashed: picked %s, want nil", h.Address)
	}
	if ld := pk.Load(); ld.Healthy[0] != 0 || ld.Degraded[0] != 0 || ld.Panic[0] {
		t.Errorf("load %+v, want all zero", ld)
	}
	// The same hosts with panic enabled are all used.
	pk = New([]Priority{{Groups: []Group{{Hosts: hs}}}}, hm.fn, Options{Rand: seeded(), PanicThreshold: 50})
	if got := len(count(pk, 1000, nil)); got != 3 {
		t.Errorf("all unhealthy in panic: %d distinct hosts picked, want 3", got)
	}
	for _, levels := range [][]Priority{nil, {}, {{}}, {{Groups: []Group{{Hosts: []*lb.Host{nil}}}}}} {
		if h := New(levels, nil, Options{}).Pick(nil); h != nil {
			t.Errorf("no hosts %v: picked %s", levels, h.Address)
		}
	}
}

func TestPickerDegraded(t *testing.T) {
	// degraded.rst 71/29/0: 1% of traffic to the degraded hosts.
	hs := mkHosts("h", 100)
	hm := healthMap{}
	hm.mark(hs, 71, 100, Degraded)
	pk := New([]Priority{{Groups: []Group{{Weight: 1, Hosts: hs}}}}, hm.fn,
		Options{Rand: seeded(), LocalityWeighted: true})
	const n = 100000
	within(t, "degraded share", sum(count(pk, n, nil), hs[71:]), n, 1, 0.3)

	// 25/65/10: 65% to degraded hosts, none to the unhealthy ones.
	hm = healthMap{}
	hm.mark(hs, 25, 90, Degraded)
	hm.mark(hs, 90, 100, Unhealthy)
	pk = New([]Priority{{Groups: []Group{{Hosts: hs}}}}, hm.fn, Options{Rand: seeded()})
	tally := count(pk, n, nil)
	within(t, "degraded share", sum(tally, hs[25:90]), n, 65, 1)
	if got := sum(tally, hs[90:]); got != 0 {
		t.Errorf("unhealthy hosts picked %d times", got)
	}
}

func TestPickerHashAffinity(t *testing.T) {
	p0, p1 := mkHosts("p0", 10), mkHosts("p1", 10)
	hm := healthMap{}
	hm.mark(p0, 5, 10, Unhealthy)
	ring := func(hs []*lb.Host) lb.Picker {
		return lb.New(snapshot.LBPolicy{Kind: snapshot.LBRingHash}, hs, lb.Options{Rand: seeded()})
	}
	levels := []Priority{
		{Groups: []Group{{Weight: 1, Hosts: p0[:5]}, {Weight: 1, Hosts: p0[5:]}}},
		{Groups: []Group{{Weight: 1, Hosts: p1[:5]}, {Weight: 2, Hosts: p1[5:]}}},
	}
	pk := New(levels, hm.fn, Options{Rand: seeded(), NewPicker: ring, LocalityWeighted: true})
	inP0 := make(map[*lb.Host]bool)
	for _, h := range p0 {
		inP0[h] = true
	}
	for i := range uint64(2000) {
		key := i * 0x9e3779b97f4a7c15
		r := &lb.Request{HasHash: true, Hash: key}
		first := pk.Pick(r)
		for range 3 {
			if again := pk.Pick(r); again != first {
				t.Fatalf("hash %#x: picked %s then %s", key, first.Address, again.Address)
			}
		}
		// Priority by hash: residues below P0's 70% land in P0.
		if want := key%100 < 70; inP0[first] != want {
			t.Fatalf("hash %#x (mod 100 = %d): picked %s, in P0 = %v", key, key%100, first.Address, inP0[first])
		}
		if hm[first] != Healthy {
			t.Fatalf("hash %#x: picked unhealthy %s", key, first.Address)
		}
	}
}

// markerPicker always returns its host, to show which picker served.
type markerPicker struct{ h *lb.Host }

func (m markerPicker) Pick(*lb.Request) *lb.Host { return m.h }

func TestPickerReusesGroupPicker(t *testing.T) {
	a, b := mkHosts("a", 3), mkHosts("b", 3)
	hm := healthMap{}
	hm.mark(b, 0, 1, Unhealthy)
	built := 0
	newPicker := func(hs []*lb.Host) lb.Picker {
		built++
		return lb.New(snapshot.LBPolicy{Kind: snapshot.LBRoundRobin}, hs, lb.Options{Rand: seeded()})
	}
	levels := []Priority{{Groups: []Group{
		{Weight: 1, Hosts: a, Picker: markerPicker{a[0]}},
		{Weight: 1, Hosts: b, Picker: markerPicker{b[0]}},
	}}}
	pk := New(levels, hm.fn, Options{Rand: seeded(), NewPicker: newPicker, LocalityWeighted: true})
	if built != 1 {
		t.Errorf("built %d pickers, want 1 (only for the partly healthy locality)", built)
	}
	tally := count(pk, 2000, nil)
	if tally[a[0]] == 0 || tally[a[1]] != 0 || tally[a[2]] != 0 {
		t.Errorf("fully healthy locality did not use the caller's picker: %v", tally)
	}
	if tally[b[0]] != 0 || tally[b[1]] == 0 || tally[b[2]] == 0 {
		t.Errorf("partly healthy locality used the caller's picker or an unhealthy host: %v", tally)
	}
}

func TestPickerTable(t *testing.T) {
	a, b, c := mkHosts("a", 2), mkHosts("b", 2), mkHosts("c", 2)
	hm := healthMap{}
	hm.mark(a, 0, 1, Unhealthy)
	hm.mark(b, 0, 1, Degraded)
	levels := []Priority{
		{Groups: []Group{{Locality: "r1/z1", Weight: 2, Hosts: a}, {Locality: "r1/z2", Weight: 1, Hosts: b}}},
		{Groups: []Group{{Locality: "r2/z1", Weight: 1, Hosts: c}}},
	}
	pk := New(levels, hm.fn, Options{Rand: seeded(), LocalityWeighted: true, PanicThreshold: 50})
	tab := pk.Table()
	if len(tab.Priorities) != 2 || tab.OverprovisioningFactor != 1.4 || tab.PanicThreshold != 50 {
		t.Fatalf("table header %+v", tab)
	}
	p0 := tab.Priorities[0]
	// P0: 4 hosts, 2 healthy (score 70), 1 degraded (score 35).
	if p0.Hosts != 4 || p0.Healthy != 2 || p0.Degraded != 1 || p0.HealthScore != 70 || p0.DegradedScore != 35 ||
		p0.HealthyLoad != 70 || p0.DegradedLoad != 0 || p0.Panic {
		t.Errorf("P0 entry %+v", p0)
	}
	// Locality a: 2 × min(1, 1.4 × 1/2) = 1.4; b: 1 × 0.7 = 0.7.
	if la, lb := p0.Localities[0], p0.Localities[1]; la.EffectiveWeight != 1.4 || lb.EffectiveWeight != 0.7 ||
		la.Share < 66.6 || la.Share > 66.7 || la.Locality != "r1/z1" {
		t.Errorf("P0 localities %+v", p0.Localities)
	}
	if h := p0.Localities[0].Hosts[0]; h.Health != Unhealthy || h.Address != "a-0" || h.Weight != 1 {
		t.Errorf("host entry %+v", h)
	}
	raw, err := json.Marshal(tab)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"health":"UNHEALTHY"`, `"health":"DEGRADED"`, `"healthyLoad":70`, `"locality":"r2/z1"`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("JSON lacks %s: %s", want, raw)
		}
	}
	// The caller owns the copy.
	tab.Priorities[0].Localities[0].Hosts[0].Address = "changed"
	if pk.Table().Priorities[0].Localities[0].Hosts[0].Address != "a-0" {
		t.Error("Table returned shared state")
	}
	ld := pk.Load()
	ld.Healthy[0] = 0
	if pk.Load().Healthy[0] != 70 {
		t.Error("Load returned shared state")
	}
}

func TestPickerExcludePassesThrough(t *testing.T) {
	hs := mkHosts("h", 2)
	rr := func(hs []*lb.Host) lb.Picker {
		return lb.New(snapshot.LBPolicy{Kind: snapshot.LBRoundRobin}, hs, lb.Options{Rand: seeded()})
	}
	pk := New([]Priority{{Groups: []Group{{Hosts: hs}}}}, nil, Options{Rand: seeded(), NewPicker: rr})
	r := &lb.Request{Exclude: []*lb.Host{hs[0]}}
	for range 10 {
		if h := pk.Pick(r); h != hs[1] {
			t.Fatalf("picked %v despite exclusion", h)
		}
	}
}

func TestPickNoAllocs(t *testing.T) {
	pk, _ := benchPicker(seeded())
	for _, r := range []*lb.Request{nil, {}, {HasHash: true, Hash: 0xdeadbeef}} {
		if n := testing.AllocsPerRun(1000, func() { pk.Pick(r) }); n != 0 {
			t.Errorf("Pick(%+v) allocates %v times", r, n)
		}
	}
}

func TestPickConcurrent(t *testing.T) {
	pk, _ := benchPicker(nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &lb.Request{}
			for i := range 5000 {
				r.HasHash = i%2 == 0
				r.Hash = uint64(g*100000 + i)
				if pk.Pick(r) == nil {
					t.Error("nil pick")
					return
				}
			}
		}()
	}
	wg.Wait()
}

// benchPicker is 3 priorities × 3 localities × 4 hosts with locality
// weighting and round robin inside, P0 and P1 partly unhealthy so that all
// three priorities and several localities see traffic.
func benchPicker(rnd lb.Rand) (*Picker, []*lb.Host) {
	levels, health, opts, all := benchSetup(rnd)
	return New(levels, health, opts), all
}

func benchSetup(rnd lb.Rand) ([]Priority, HealthFunc, Options, []*lb.Host) {
	hm := healthMap{}
	var all []*lb.Host
	levels := make([]Priority, 3)
	for p := range levels {
		for l := range 3 {
			hs := mkHosts(fmt.Sprintf("p%d-l%d", p, l), 4)
			all = append(all, hs...)
			if p < 2 && l == 0 {
				hm.mark(hs, 0, 3, Unhealthy)
			}
			if p == 0 && l == 1 {
				hm.mark(hs, 0, 4, Unhealthy)
			}
			levels[p].Groups = append(levels[p].Groups, Group{
				Locality: fmt.Sprintf("r%d/z%d", p, l), Weight: uint32(l + 1), Hosts: hs,
			})
		}
	}
	rr := func(hs []*lb.Host) lb.Picker {
		return lb.New(snapshot.LBPolicy{Kind: snapshot.LBRoundRobin}, hs, lb.Options{Rand: rnd})
	}
	return levels, hm.fn, Options{Rand: rnd, LocalityWeighted: true, NewPicker: rr}, all
}
