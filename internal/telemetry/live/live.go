// Package live keeps the last minutes of traffic in memory for the admin
// server's live page: requests and errors per second, and requests per
// route and destination cluster, so the page can show the split a route
// actually produced next to the weights it was configured with.
//
// Counting is lock-free on the request path once a route/cluster pair
// has been seen; buckets are reset lazily by the first request of a new
// second, so a count racing a reset may be lost. The numbers are for
// eyes, not for billing: Prometheus has the exact counters.
package live

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshgate/meshgate/internal/telemetry/accesslog"
)

// Window is how much history is kept.
const Window = 5 * time.Minute

const seconds = int64(Window / time.Second)

// SplitWindow is how far back the observed split of a route looks: short
// enough that a weight change shows within seconds.
const SplitWindow = 10 * time.Second

const splitSeconds = int64(SplitWindow / time.Second)

type bucket struct {
	sec    atomic.Int64
	n      atomic.Int64
	errors atomic.Int64
}

func (b *bucket) add(sec int64, failed bool) {
	if s := b.sec.Load(); s != sec && b.sec.CompareAndSwap(s, sec) {
		b.n.Store(0)
		b.errors.Store(0)
	}
	b.n.Add(1)
	if failed {
		b.errors.Add(1)
	}
}

type pairKey struct{ route, cluster string }

type pairCounts struct {
	ring [splitSeconds]bucket
}

// Recorder counts finished requests. A nil *Recorder counts nothing.
type Recorder struct {
	ring [seconds]bucket

	mu    sync.RWMutex
	pairs map[pairKey]*pairCounts
}

// New returns an empty Recorder.
func New() *Recorder {
	return &Recorder{pairs: map[pairKey]*pairCounts{}}
}

// Observe counts one finished request at the time it ended. A request
// failed when it got a 5xx or no response at all.
func (r *Recorder) Observe(rec *accesslog.Record) {
	if r == nil {
		return
	}
	sec := rec.Start.Add(rec.Duration).Unix()
	failed := rec.Status >= 500 || rec.Status == 0
	r.ring[mod(sec, seconds)].add(sec, failed)
	if rec.UpstreamCluster == "" {
		return
	}
	k := pairKey{rec.RouteName, rec.UpstreamCluster}
	r.mu.RLock()
	p := r.pairs[k]
	r.mu.RUnlock()
	if p == nil {
		r.mu.Lock()
		if p = r.pairs[k]; p == nil {
			p = &pairCounts{}
			r.pairs[k] = p
		}
		r.mu.Unlock()
	}
	p.ring[mod(sec, splitSeconds)].add(sec, failed)
}

func mod(a, b int64) int64 { return ((a % b) + b) % b }

// Point is the traffic of one interval.
type Point struct {
	// Time is the interval's start, Unix seconds.
	Time     int64 `json:"t"`
	Requests int64 `json:"requests"`
	Errors   int64 `json:"errors"`
}

// Series returns the traffic of the last Window up to now in intervals
// of step, oldest first; the current, incomplete second is left out.
func (r *Recorder) Series(now time.Time, step time.Duration) []Point {
	if r == nil {
		return nil
	}
	st := int64(step / time.Second)
	if st < 1 {
		st = 1
	}
	end := now.Unix() // exclusive
	start := end - seconds
	start -= mod(start, st)
	var out []Point
	for t := start; t < end; t += st {
		p := Point{Time: t}
		for s := t; s < t+st && s < end; s++ {
			if s <= end-seconds {
				continue
			}
			b := &r.ring[mod(s, seconds)]
			if b.sec.Load() == s {
				p.Requests += b.n.Load()
				p.Errors += b.errors.Load()
			}
		}
		out = append(out, p)
	}
	return out
}

// Rate returns requests and errors per second over the last d (whole
// seconds before now).
func (r *Recorder) Rate(now time.Time, d time.Duration) (requests, errors float64) {
	if r == nil {
		return 0, 0
	}
	n := min(int64(d/time.Second), seconds-1)
	if n < 1 {
		return 0, 0
	}
	end := now.Unix()
	var req, errs int64
	for s := end - n; s < end; s++ {
		b := &r.ring[mod(s, seconds)]
		if b.sec.Load() == s {
			req += b.n.Load()
			errs += b.errors.Load()
		}
	}
	return float64(req) / float64(n), float64(errs) / float64(n)
}

// Split returns how many requests of route went to cluster in the
// SplitWindow before now, the current second included.
func (r *Recorder) Split(now time.Time, route, cluster string) int64 {
	if r == nil {
		return 0
	}
	r.mu.RLock()
	p := r.pairs[pairKey{route, cluster}]
	r.mu.RUnlock()
	if p == nil {
		return 0
	}
	end := now.Unix()
	var n int64
	for s := end - splitSeconds + 1; s <= end; s++ {
		b := &p.ring[mod(s, splitSeconds)]
		if b.sec.Load() == s {
			n += b.n.Load()
		}
	}
	return n
}
