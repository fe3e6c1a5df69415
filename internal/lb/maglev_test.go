package lb

import (
	"slices"
	"testing"

	"github.com/meshgate/meshgate/internal/snapshot"
)

func newMaglevPicker(hosts []*Host, size uint64) *maglev {
	return New(snapshot.LBPolicy{Kind: snapshot.LBMaglev, TableSize: size}, hosts, Options{Rand: newSeqRand(19)}).(*maglev)
}

// tableShares returns each host's fraction of the lookup table.
func tableShares(p *maglev) []float64 {
	out := make([]float64, len(p.hosts))
	for _, i := range p.table {
		out[i]++
	}
	for i := range out {
		out[i] /= float64(len(p.table))
	}
	return out
}

// TestMaglevEvenness: each of 5 equal hosts owns 20%±2pp of the table
// (the algorithm in fact gives M/5 rounded either way), and weights 2:1
// give 2/3±2pp.
func TestMaglevEvenness(t *testing.T) {
	tests := []struct {
		name    string
		weights []uint32
		size    uint64
	}{
		{"5 equal", []uint32{1, 1, 1, 1, 1}, 0},
		{"5 equal, small table", []uint32{1, 1, 1, 1, 1}, 251},
		{"2:1", []uint32{2, 1}, 0},
		{"2:1:1", []uint32{2, 1, 1}, 0},
		{"1:2:3:4", []uint32{1, 2, 3, 4}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sum float64
			for _, w := range tt.weights {
				sum += float64(w)
			}
			p := newMaglevPicker(weighted(tt.weights...), tt.size)
			for i, s := range tableShares(p) {
				if want := float64(tt.weights[i]) / sum; !within(s, want, 0.02) {
					t.Errorf("host %d owns %.4f of the table, want %.4f±0.02", i, s, want)
				}
			}
		})
	}
}

func TestMaglevConsistent(t *testing.T) {
	hosts := equal(10)
	p := newMaglevPicker(hosts, 0)
	rev := slices.Clone(hosts)
	slices.Reverse(rev)
	q := newMaglevPicker(rev, 0)
	for i := range 1000 {
		r := &Request{Hash: keyHash(i), HasHash: true}
		a := p.Pick(r)
		if b := p.Pick(r); a != b {
			t.Fatalf("key %d: picked %s then %s", i, a.Address, b.Address)
		}
	}
	// The table depends on the hosts, not on their order.
	if moved, _ := movement(owners(p, movementKeys), owners(q, movementKeys), nil, nil); moved != 0 {
		t.Errorf("reversing host order moved %.4f of keys, want 0", moved)
	}
}

// TestMaglevMembershipChange: removing 1 of 10 hosts moves every key of
// that host (≈10%) plus a little churn among the others; the test allows
// up to 20% in total.
func TestMaglevMembershipChange(t *testing.T) {
	hosts := equal(10)
	before := owners(newMaglevPicker(hosts, 0), movementKeys)
	gone := hosts[3]
	rest := slices.Delete(slices.Clone(hosts), 3, 4)
	after := owners(newMaglevPicker(rest, 0), movementKeys)
	moved, stray := movement(before, after, gone, nil)
	var onGone int
	for _, h := range before {
		if h == gone {
			onGone++
		}
	}
	t.Logf("removing 1 of 10 hosts moved %.2f%% of keys (%.2f%% were on it, %.2f%% churn)",
		100*moved, 100*float64(onGone)/movementKeys, 100*float64(stray)/movementKeys)
	if moved < 0.05 || moved > 0.20 {
		t.Errorf("moved %.3f of keys, want within [0.05, 0.20]", moved)
	}
	for i := range before {
		if before[i] == gone && after[i] == gone {
			t.Fatal("a key stayed on the removed host")
		}
	}
}

func TestMaglevNoHashIsRandom(t *testing.T) {
	hosts := weighted(2, 1, 1)
	got := shares(newMaglevPicker(hosts, 0), hosts, nil, 50000)
	for i, want := range []float64{0.5, 0.25, 0.25} {
		if !within(got[i], want, 0.03) {
			t.Errorf("host %d share without a hash = %.3f, want %.2f±0.03", i, got[i], want)
		}
	}
}

func TestMaglevSize(t *testing.T) {
	tests := []struct {
		requested uint64
		hosts     int
		want      uint64
	}{
		{0, 3, 65537},
		{65537, 3, 65537},
		{1000, 3, 1009},
		{2, 3, 3},
		{10, 20, 23},
		{1 << 40, 3, maxMaglevTableSize},
	}
	for _, tt := range tests {
		if got := maglevSize(tt.requested, tt.hosts); got != tt.want {
			t.Errorf("maglevSize(%d, %d) = %d, want %d", tt.requested, tt.hosts, got, tt.want)
		}
	}
	if !isPrime(maxMaglevTableSize) || !isPrime(defaultMaglevTableSize) {
		t.Error("table size constants must be prime")
	}
	for n, want := range map[uint64]bool{0: false, 1: false, 2: true, 9: false, 97: true, 65535: false} {
		if isPrime(n) != want {
			t.Errorf("isPrime(%d) = %v", n, !want)
		}
	}
}
