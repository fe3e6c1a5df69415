package lb

import (
	"slices"
	"testing"

	"github.com/meshgate/meshgate/internal/snapshot"
)

const movementKeys = 10000

// owners maps test keys 0..n-1 to the host each is picked for.
func owners(p Picker, n int) []*Host {
	out := make([]*Host, n)
	r := &Request{HasHash: true}
	for i := range out {
		r.Hash = keyHash(i)
		out[i] = p.Pick(r)
	}
	return out
}

// movement compares two key→host mappings and returns the fraction of
// keys that changed host, and how many of those did not start on from or
// end on to (nil matches any host).
func movement(before, after []*Host, from, to *Host) (moved float64, stray int) {
	n := 0
	for i := range before {
		if before[i] == after[i] {
			continue
		}
		n++
		if (from != nil && before[i] != from) || (to != nil && after[i] != to) {
			stray++
		}
	}
	return float64(n) / float64(len(before)), stray
}

func newRing(hosts []*Host, size uint64) Picker {
	return New(snapshot.LBPolicy{Kind: snapshot.LBRingHash, RingSize: size}, hosts, Options{Rand: newSeqRand(17)})
}

func TestRingHashConsistent(t *testing.T) {
	hosts := equal(10)
	p := newRing(hosts, 0)
	// The ring depends on the hosts, not on their order.
	rev := slices.Clone(hosts)
	slices.Reverse(rev)
	q := newRing(rev, 0)
	for i := range 1000 {
		r := &Request{Hash: keyHash(i), HasHash: true}
		a := p.Pick(r)
		if b := p.Pick(r); a != b {
			t.Fatalf("key %d: picked %s then %s", i, a.Address, b.Address)
		}
		if b := q.Pick(r); a != b {
			t.Fatalf("key %d: %s, but %s with hosts reversed", i, a.Address, b.Address)
		}
	}
}

func TestRingHashMembershipChange(t *testing.T) {
	for _, size := range []uint64{0, 4096} {
		hosts := equal(11)
		ten := newRing(hosts[:10], size)
		base := owners(ten, movementKeys)

		t.Run("remove", func(t *testing.T) {
			gone := hosts[3]
			rest := slices.Delete(slices.Clone(hosts[:10]), 3, 4)
			moved, stray := movement(base, owners(newRing(rest, size), movementKeys), gone, nil)
			t.Logf("ring size %d: removing 1 of 10 hosts moved %.2f%% of keys", size, 100*moved)
			if stray != 0 {
				t.Errorf("%d keys moved that were not on the removed host", stray)
			}
			if !within(moved, 0.10, 0.05) {
				t.Errorf("moved %.3f of keys, want 0.10±0.05", moved)
			}
		})
		t.Run("add", func(t *testing.T) {
			added := hosts[10]
			moved, stray := movement(base, owners(newRing(hosts, size), movementKeys), nil, added)
			t.Logf("ring size %d: adding an 11th host moved %.2f%% of keys", size, 100*moved)
			if stray != 0 {
				t.Errorf("%d keys moved to a host other than the added one", stray)
			}
			if !within(moved, 1.0/11, 0.05) {
				t.Errorf("moved %.3f of keys, want 0.091±0.05", moved)
			}
		})
	}
}

func TestRingHashWeights(t *testing.T) {
	hosts := weighted(3, 1)
	p := newRing(hosts, 0)
	counts := make([]int, 2)
	for _, h := range owners(p, movementKeys) {
		counts[indexOf(hosts, h)]++
	}
	if got := float64(counts[0]) / movementKeys; !within(got, 0.75, 0.05) {
		t.Errorf("weight-3 host got %.3f of keys, want 0.75±0.05", got)
	}
}

func TestRingHashNoHashIsRandom(t *testing.T) {
	hosts := equal(5)
	got := shares(newRing(hosts, 0), hosts, &Request{}, 50000)
	for i, s := range got {
		if !within(s, 0.2, 0.05) {
			t.Errorf("host %d share without a hash = %.3f, want 0.20±0.05", i, s)
		}
	}
}

func TestRingCounts(t *testing.T) {
	tests := []struct {
		name    string
		weights []uint64
		minSize uint64
		want    []uint64
	}{
		{"10 equal", []uint64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 1024, rep(10, 128)},
		{"9 equal, same scale", rep(9, 1), 1024, rep(9, 128)},
		{"3:1", []uint64{3, 1}, 1024, []uint64{768, 256}},
		{"heavy weights scale down", []uint64{4000, 1000}, 1024, []uint64{1000, 250}},
		{"lightest keeps a point", []uint64{1 << 20, 1}, 16, []uint64{1 << 20, 1}},
		{"capped, lightest keeps a point", []uint64{1 << 30, 1}, 16, []uint64{maxRingSize - 1, 1}},
		{"capped exactly", []uint64{1, 1, 2}, maxRingSize, []uint64{maxRingSize / 4, maxRingSize / 4, maxRingSize / 2}},
		{"weight 3 rounds up", []uint64{3, 8}, 4, []uint64{2, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ringCounts(tt.weights, tt.minSize)
			if !slices.Equal(got, tt.want) {
				t.Errorf("ringCounts(%v, %d) = %v, want %v", tt.weights, tt.minSize, got, tt.want)
			}
		})
	}
	t.Run("bounds", func(t *testing.T) {
		for _, ws := range [][]uint64{rep(3, 1), rep(100, 7), {1, 2, 3}, {1 << 31, 1, 5}, {100, 1}} {
			for _, m := range []uint64{1, 1024, 100000, maxRingSize} {
				var sum uint64
				for _, c := range ringCounts(ws, m) {
					sum += c
				}
				if sum < m || sum > maxRingSize || slices.Contains(ringCounts(ws, m), 0) {
					t.Errorf("ringCounts(%v, %d) sums to %d, want in [%d, %d] and no host without a point", ws, m, sum, m, maxRingSize)
				}
			}
		}
	})
}

func TestRingHashSizeClamp(t *testing.T) {
	p := New(snapshot.LBPolicy{Kind: snapshot.LBRingHash, RingSize: 100}, equal(3), Options{}).(*ringHash)
	if n := len(p.points); n < 100 || n > 200 {
		t.Errorf("RingSize 100 built %d points, want [100, 200]", n)
	}
	p = New(snapshot.LBPolicy{Kind: snapshot.LBRingHash}, equal(3), Options{}).(*ringHash)
	if n := len(p.points); n < defaultRingSize || n > 2*defaultRingSize {
		t.Errorf("default RingSize built %d points, want [1024, 2048]", n)
	}
}

func rep(n int, v uint64) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = v
	}
	return out
}
