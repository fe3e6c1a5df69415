package outlier

import (
	"testing"
)

// BenchmarkReport measures the hot path: a success, and a 5xx that does
// not reach the threshold, on one of 100 hosts; then successes from every
// core at once to different hosts.
func BenchmarkReport(b *testing.B) {
	hs := mkHosts(100)
	p := DefaultPolicy()
	p.Consecutive5xx = 1 << 30
	d := New(p, hs, t0)
	b.Run("success", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			d.Report(hs[i%100], 200, false, t0)
			i++
		}
	})
	b.Run("5xx", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			d.Report(hs[i%100], 503, false, t0)
			i++
		}
	})
	b.Run("success-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				d.Report(hs[i%100], 200, false, t0)
				i++
			}
		})
	})
	b.Run("ejected", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			d.Ejected(hs[i%100])
			i++
		}
	})
}

// BenchmarkSweep measures one interval's sweep over 100 hosts.
func BenchmarkSweep(b *testing.B) {
	hs := mkHosts(100)
	d := New(DefaultPolicy(), hs, t0)
	b.ReportAllocs()
	for b.Loop() {
		d.Sweep(t0)
	}
}
