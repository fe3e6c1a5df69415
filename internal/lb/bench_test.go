package lb

import (
	"fmt"
	"testing"

	"github.com/meshgate/meshgate/internal/snapshot"
)

// BenchmarkPick measures Pick for every policy with 4 and 100 hosts, equal
// and unequal weights, using the default Rand.
func BenchmarkPick(b *testing.B) {
	for _, kind := range allKinds {
		for _, n := range []int{4, 100} {
			ws := make([]uint32, n)
			for i := range ws {
				ws[i] = 1
			}
			b.Run(fmt.Sprintf("%s/%dhosts", kind, n), func(b *testing.B) {
				benchPick(b, kind, weighted(ws...))
			})
			for i := range ws {
				ws[i] = uint32(i%5 + 1)
			}
			b.Run(fmt.Sprintf("%s/%dhosts/weighted", kind, n), func(b *testing.B) {
				benchPick(b, kind, weighted(ws...))
			})
		}
	}
}

func benchPick(b *testing.B, kind snapshot.LBKind, hosts []*Host) {
	p := New(snapshot.LBPolicy{Kind: kind}, hosts, Options{})
	r := &Request{HasHash: true}
	b.ReportAllocs()
	var h uint64
	for b.Loop() {
		h += 0x9e3779b97f4a7c15
		r.Hash = h
		p.Pick(r)
	}
}

// BenchmarkPickParallel shows contention on the shared counters and
// scheduler when every core picks from one picker.
func BenchmarkPickParallel(b *testing.B) {
	for _, kind := range allKinds {
		b.Run(string(kind), func(b *testing.B) {
			p := New(snapshot.LBPolicy{Kind: kind}, equal(100), Options{})
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				r := &Request{HasHash: true}
				for pb.Next() {
					r.Hash += 0x9e3779b97f4a7c15
					p.Pick(r)
				}
			})
		})
	}
	b.Run("ROUND_ROBIN/edf", func(b *testing.B) {
		p := newRoundRobin(weighted(1, 2, 3, 4, 5), globalRand{}, 1)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p.Pick(nil)
			}
		})
	})
}
