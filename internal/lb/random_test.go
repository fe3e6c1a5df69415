package lb

import (
	"math"
	"testing"

	"github.com/meshgate/meshgate/internal/snapshot"
)

func TestRandomDistribution(t *testing.T) {
	tests := []struct {
		name    string
		weights []uint32
	}{
		{"equal 4", []uint32{1, 1, 1, 1}},
		{"equal 10", []uint32{3, 3, 3, 3, 3, 3, 3, 3, 3, 3}},
		{"3:1", []uint32{3, 1}},
		{"1:2:3:4", []uint32{1, 2, 3, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hosts := weighted(tt.weights...)
			var sum float64
			for _, w := range tt.weights {
				sum += float64(w)
			}
			p := New(snapshot.LBPolicy{Kind: snapshot.LBRandom}, hosts, Options{Rand: newSeqRand(13)})
			for i, s := range shares(p, hosts, nil, 100000) {
				if want := float64(tt.weights[i]) / sum; !within(s, want, 0.03) {
					t.Errorf("host %d share = %.4f, want %.4f±0.03", i, s, want)
				}
			}
		})
	}
}

// TestAliasTableExact feeds evenly spaced inputs through the alias table:
// the output counts must match the weights to within rounding.
func TestAliasTableExact(t *testing.T) {
	for _, ws := range [][]uint64{
		{1, 1},
		{3, 1},
		{1, 2, 3, 4},
		{1, 1000, 7, 7, 7},
		{math.MaxUint32, 1, math.MaxUint32 / 3},
	} {
		table := newAliasTable(ws)
		const n = 1 << 20
		counts := make([]float64, len(ws))
		for i := range uint64(n) {
			counts[table.sample(i*(math.MaxUint64/n))]++
		}
		var sum float64
		for _, w := range ws {
			sum += float64(w)
		}
		for i, w := range ws {
			want := float64(w) / sum * n
			if math.Abs(counts[i]-want) > float64(len(ws))+1 {
				t.Errorf("weights %v: index %d sampled %.0f times, want %.1f", ws, i, counts[i], want)
			}
		}
	}
}
