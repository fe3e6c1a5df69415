package outlier

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestReportNoAllocs(t *testing.T) {
	hs := mkHosts(4)
	p := DefaultPolicy()
	p.Consecutive5xx = 1 << 30 // never reached here
	p.SplitExternalLocalOrigin = true
	d := New(p, hs, t0)
	for _, o := range []outcome{ok200, e500, e503, lof, connect} {
		if n := testing.AllocsPerRun(1000, func() { d.Report(hs[1], o.status, o.local, t0) }); n != 0 {
			t.Errorf("Report(%+v) allocates %v times", o, n)
		}
	}
	if n := testing.AllocsPerRun(1000, func() { d.Ejected(hs[2]) }); n != 0 {
		t.Errorf("Ejected allocates %v times", n)
	}
}

// TestConcurrentReportSweep has many goroutines report while another
// sweeps on an advancing clock and a third rebuilds, under the race
// detector. The cap must hold at every instant and the active count must
// match the hosts actually ejected once things settle.
func TestConcurrentReportSweep(t *testing.T) {
	const (
		numHosts   = 16
		reporters  = 8
		perWorker  = 20000
		maxPercent = 50
	)
	hs := mkHosts(numHosts)
	p := DefaultPolicy()
	p.Consecutive5xx = 3
	p.ConsecutiveGateway = 2
	p.MaxEjectionPercent = maxPercent
	d := New(p, hs, t0)

	var clock atomic.Int64 // nanoseconds after t0
	now := func() time.Time { return t0.Add(time.Duration(clock.Load())) }
	limit := maxPercent * numHosts / 100

	var wg sync.WaitGroup
	var ejections atomic.Int64
	for w := range reporters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(w), 99))
			for range perWorker {
				h := hs[rnd.IntN(numHosts)]
				var o outcome
				switch x := rnd.IntN(10); {
				case x < 5:
					o = e500
				case x < 7:
					o = e503
				case x < 8:
					o = lof
				default:
					o = ok200
				}
				if d.Report(h, o.status, o.local, now()) {
					ejections.Add(1)
				}
				d.Ejected(h)
			}
		}()
	}
	stop := make(chan struct{})
	sweeps := make(chan error, 1)
	go func() {
		defer close(sweeps)
		for {
			select {
			case <-stop:
				return
			default:
			}
			clock.Add(int64(10 * time.Second))
			d.Sweep(now())
			if a := d.Stats().EjectionsActive; a > limit || a < 0 {
				sweeps <- fmt.Errorf("active ejections %d outside [0, %d]", a, limit)
				return
			}
			d.Rebuild(p, hs, now())
			d.Status(hs[0], now())
		}
	}()
	wg.Wait()
	close(stop)
	if err := <-sweeps; err != nil {
		t.Fatal(err)
	}

	st := d.Stats()
	ejected := 0
	for _, h := range hs {
		if d.Ejected(h) {
			ejected++
		}
	}
	if st.EjectionsActive != ejected || ejected > limit {
		t.Fatalf("active %d, ejected hosts %d, limit %d", st.EjectionsActive, ejected, limit)
	}
	if st.EjectionsTotal != uint64(ejections.Load()) || st.EjectionsTotal == 0 {
		t.Fatalf("EjectionsTotal %d, Reports that ejected %d", st.EjectionsTotal, ejections.Load())
	}
	if st.EjectionsConsecutive5xx+st.EjectionsConsecutiveGateway != st.EjectionsTotal {
		t.Fatalf("per-detector counts do not add up: %+v", st)
	}
	// Far enough in the future every ejection has ended.
	d.Sweep(now().Add(time.Hour))
	if st := d.Stats(); st.EjectionsActive != 0 {
		t.Fatalf("still %d active after an hour", st.EjectionsActive)
	}
}
