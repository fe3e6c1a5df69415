package lb

import (
	"fmt"
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cespare/xxhash/v2"

	"github.com/meshgate/meshgate/internal/snapshot"
)

// seqRand is a deterministic Rand: SplitMix64 over an atomic counter, so
// it is also safe for concurrent use.
type seqRand struct{ state atomic.Uint64 }

func newSeqRand(seed uint64) *seqRand {
	r := &seqRand{}
	r.state.Store(seed)
	return r
}

func (r *seqRand) Uint64() uint64 {
	z := r.state.Add(0x9e3779b97f4a7c15)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (r *seqRand) IntN(n int) int {
	hi, _ := bits.Mul64(r.Uint64(), uint64(n))
	return int(hi)
}

// zeroRand always returns 0, so rotations start at their first entry.
type zeroRand struct{}

func (zeroRand) IntN(int) int   { return 0 }
func (zeroRand) Uint64() uint64 { return 0 }

var allKinds = []snapshot.LBKind{
	snapshot.LBRoundRobin,
	snapshot.LBLeastRequest,
	snapshot.LBRandom,
	snapshot.LBRingHash,
	snapshot.LBMaglev,
}

// weighted builds hosts "10.0.0.<i>:8080" with the given weights.
func weighted(ws ...uint32) []*Host {
	hosts := make([]*Host, len(ws))
	for i, w := range ws {
		hosts[i] = NewHost(fmt.Sprintf("10.0.0.%d:8080", i), w)
	}
	return hosts
}

func equal(n int) []*Host {
	ws := make([]uint32, n)
	for i := range ws {
		ws[i] = 1
	}
	return weighted(ws...)
}

func indexOf(hosts []*Host, h *Host) int {
	for i, x := range hosts {
		if x == h {
			return i
		}
	}
	return -1
}

// shares picks n times and returns each host's fraction of the picks.
func shares(p Picker, hosts []*Host, r *Request, n int) []float64 {
	counts := make([]int, len(hosts))
	for range n {
		counts[indexOf(hosts, p.Pick(r))]++
	}
	out := make([]float64, len(hosts))
	for i, c := range counts {
		out[i] = float64(c) / float64(n)
	}
	return out
}

// keyHash is the consistent-hash key of test key i, hashed as the
// gateway hashes header values.
func keyHash(i int) uint64 { return xxhash.Sum64String(fmt.Sprintf("user-%d", i)) }

func within(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

func TestNewEmptyAndSingle(t *testing.T) {
	only := NewHost("10.0.0.1:80", 1)
	for _, kind := range append(allKinds, "") {
		t.Run(string(kind), func(t *testing.T) {
			pol := snapshot.LBPolicy{Kind: kind}
			if h := New(pol, nil, Options{}).Pick(nil); h != nil {
				t.Errorf("empty: Pick = %v, want nil", h)
			}
			if h := New(pol, []*Host{nil}, Options{}).Pick(&Request{}); h != nil {
				t.Errorf("only nil hosts: Pick = %v, want nil", h)
			}
			p := New(pol, []*Host{nil, only}, Options{})
			for range 3 {
				if h := p.Pick(&Request{Exclude: []*Host{only}}); h != only {
					t.Errorf("single: Pick = %v, want %v", h, only)
				}
			}
		})
	}
}

func TestZeroWeightCountsAsOne(t *testing.T) {
	hosts := []*Host{{Address: "10.0.0.1:80"}, NewHost("10.0.0.2:80", 1)}
	for _, kind := range allKinds {
		t.Run(string(kind), func(t *testing.T) {
			p := New(snapshot.LBPolicy{Kind: kind}, hosts, Options{Rand: newSeqRand(1)})
			got := shares(p, hosts, nil, 20000)
			if !within(got[0], 0.5, 0.05) {
				t.Errorf("weight-0 host share = %.3f, want 0.50±0.05", got[0])
			}
		})
	}
}

func TestNewKinds(t *testing.T) {
	eq, wt := equal(4), weighted(1, 2, 3, 4)
	tests := []struct {
		kind  snapshot.LBKind
		hosts []*Host
		want  string
	}{
		{snapshot.LBRoundRobin, eq, "*lb.rotation"},
		{snapshot.LBRoundRobin, wt, "*lb.scheduled"},
		{snapshot.LBLeastRequest, eq, "*lb.twoChoices"},
		{snapshot.LBLeastRequest, wt, "*lb.weightedLeastRequest"},
		{"", eq, "*lb.twoChoices"},
		{"BOGUS", wt, "*lb.weightedLeastRequest"},
		{snapshot.LBRandom, eq, "*lb.uniform"},
		{snapshot.LBRandom, wt, "*lb.weightedRandom"},
		{snapshot.LBRingHash, wt, "*lb.ringHash"},
		{snapshot.LBMaglev, wt, "*lb.maglev"},
	}
	for _, tt := range tests {
		got := fmt.Sprintf("%T", New(snapshot.LBPolicy{Kind: tt.kind}, tt.hosts, Options{}))
		if got != tt.want {
			t.Errorf("New(%q, %d hosts) = %s, want %s", tt.kind, len(tt.hosts), got, tt.want)
		}
	}
}

func TestNewCopiesHosts(t *testing.T) {
	hosts := equal(3)
	p := New(snapshot.LBPolicy{Kind: snapshot.LBRoundRobin}, hosts, Options{Rand: zeroRand{}})
	first := hosts[0]
	hosts[0] = NewHost("10.9.9.9:80", 1)
	if h := p.Pick(nil); h != first {
		t.Errorf("Pick after caller reused its slice = %s, want %s", h.Address, first.Address)
	}
}

// TestExclude checks that retries avoid hosts already tried on every
// policy that honours Exclude, and that the consistent-hash policies
// ignore it.
func TestExclude(t *testing.T) {
	for _, kind := range []snapshot.LBKind{snapshot.LBRoundRobin, snapshot.LBLeastRequest, snapshot.LBRandom} {
		for name, hosts := range map[string][]*Host{"equal": equal(4), "weighted": weighted(5, 1, 1, 1)} {
			t.Run(string(kind)+"/"+name, func(t *testing.T) {
				p := New(snapshot.LBPolicy{Kind: kind}, hosts, Options{Rand: newSeqRand(7)})

				// Only one host left: always that one, even when the
				// policy strongly prefers the excluded ones.
				r := &Request{Exclude: []*Host{hosts[0], hosts[1], hosts[2]}}
				for range 1000 {
					if h := p.Pick(r); h != hosts[3] {
						t.Fatalf("Pick = %s, want the only non-excluded host %s", h.Address, hosts[3].Address)
					}
				}

				// One host excluded: never it, and the rest still used.
				r = &Request{Exclude: []*Host{hosts[0]}}
				seen := map[*Host]bool{}
				for range 1000 {
					h := p.Pick(r)
					if h == hosts[0] {
						t.Fatalf("Pick returned excluded host %s", h.Address)
					}
					seen[h] = true
				}
				if len(seen) != 3 {
					t.Errorf("with one host excluded, picks used %d hosts, want 3", len(seen))
				}

				// Everything excluded: still a host rather than nil.
				r = &Request{Exclude: hosts}
				if h := p.Pick(r); h == nil {
					t.Error("with every host excluded Pick = nil, want a host")
				}
			})
		}
	}
	for _, kind := range []snapshot.LBKind{snapshot.LBRingHash, snapshot.LBMaglev} {
		t.Run(string(kind), func(t *testing.T) {
			hosts := equal(5)
			p := New(snapshot.LBPolicy{Kind: kind}, hosts, Options{Rand: newSeqRand(7)})
			for i := range 100 {
				r := &Request{Hash: keyHash(i), HasHash: true}
				want := p.Pick(r)
				r.Exclude = []*Host{want}
				if h := p.Pick(r); h != want {
					t.Fatalf("key %d: Pick with its host excluded = %s, want %s (consistent hash ignores Exclude)", i, h.Address, want.Address)
				}
			}
		})
	}
}

func TestPickDoesNotAllocate(t *testing.T) {
	for _, kind := range allKinds {
		for name, hosts := range map[string][]*Host{"equal": equal(8), "weighted": weighted(1, 2, 3, 4, 5, 6, 7, 8)} {
			p := New(snapshot.LBPolicy{Kind: kind}, hosts, Options{})
			reqs := map[string]*Request{
				"nil":     nil,
				"hash":    {Hash: 12345, HasHash: true},
				"exclude": {Exclude: hosts[:7]},
			}
			for rname, r := range reqs {
				if n := testing.AllocsPerRun(1000, func() { p.Pick(r) }); n != 0 {
					t.Errorf("%s/%s/%s: %v allocs per Pick, want 0", kind, name, rname, n)
				}
			}
		}
	}
}

// TestConcurrentPick runs every picker from several goroutines; it is
// meant for the race detector.
func TestConcurrentPick(t *testing.T) {
	pickers := map[string]Picker{}
	for _, kind := range allKinds {
		pickers[string(kind)+"/equal"] = New(snapshot.LBPolicy{Kind: kind}, equal(5), Options{})
		pickers[string(kind)+"/weighted"] = New(snapshot.LBPolicy{Kind: kind}, weighted(1, 2, 3, 4, 5), Options{})
	}
	pickers["ROUND_ROBIN/edf"] = newRoundRobin(weighted(1, 2, 3, 4, 5), globalRand{}, 1)
	for name, p := range pickers {
		t.Run(name, func(t *testing.T) {
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Go(func() {
					r := &Request{Hash: uint64(g), HasHash: g%2 == 0}
					for range 2000 {
						h := p.Pick(r)
						if h == nil {
							t.Error("Pick = nil")
							return
						}
						h.Begin()
						h.End()
					}
				})
			}
			wg.Wait()
		})
	}
}

func TestExcludesNilRequest(t *testing.T) {
	if excludes(nil) || excludes(&Request{}) || !excludes(&Request{Exclude: []*Host{{}}}) {
		t.Error("excludes gives the wrong answer")
	}
}
