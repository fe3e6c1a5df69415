package priority

import (
	"testing"

	"github.com/meshgate/meshgate/internal/lb"
)

// BenchmarkPick measures Pick over 3 priorities × 3 localities × 4 hosts
// (locality weighted, round robin inside) with the default Rand.
func BenchmarkPick(b *testing.B) {
	pk, _ := benchPicker(nil)
	b.Run("random", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			pk.Pick(nil)
		}
	})
	b.Run("hashed", func(b *testing.B) {
		r := &lb.Request{HasHash: true}
		b.ReportAllocs()
		for b.Loop() {
			r.Hash += 0x9e3779b97f4a7c15
			pk.Pick(r)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				pk.Pick(nil)
			}
		})
	})
}

// BenchmarkNew measures building the same Picker, the slow path taken on
// every health change.
func BenchmarkNew(b *testing.B) {
	levels, health, opts, _ := benchSetup(nil)
	b.ReportAllocs()
	for b.Loop() {
		New(levels, health, opts)
	}
}
