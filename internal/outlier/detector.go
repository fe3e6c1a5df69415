package outlier

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshgate/meshgate/internal/lb"
)

// A host's ejection state lives in one atomic word: the low two bits are
// the state, the rest the ejection-time multiplier. Keeping both in one
// word lets Sweep's multiplier decay and an ejection's multiplier increase
// exclude each other with a single compare-and-swap.
const (
	inService uint64 = iota
	// ejecting: a Report owns the host while it checks the cap and
	// stamps the ejection; nobody else changes the word meanwhile.
	ejecting
	ejected

	stateMask      = 3
	multiplierUnit = 4
)

func stateOf(w uint64) uint64      { return w & stateMask }
func multiplierOf(w uint64) uint64 { return w >> 2 }
func word(mult, state uint64) uint64 {
	return mult*multiplierUnit | state
}

// hostState is one host's detector state. It fills a cache line so that
// Reports to neighbouring hosts do not contend.
type hostState struct {
	host      *lb.Host
	word      atomic.Uint64
	ejectedAt atomic.Int64 // nanoseconds since the Detector's epoch
	c5xx      atomic.Uint32
	cGateway  atomic.Uint32
	cLocal    atomic.Uint32
	ejections atomic.Uint32
	_         [24]byte
}

// kind names the detector that fired.
type kind uint8

const (
	kind5xx kind = iota
	kindGateway
	kindLocalOrigin
	numKinds
)

func (s *hostState) counter(k kind) *atomic.Uint32 {
	switch k {
	case kindGateway:
		return &s.cGateway
	case kindLocalOrigin:
		return &s.cLocal
	}
	return &s.c5xx
}

// reset zeroes a counter, skipping the write (and the cache-line
// invalidation it costs other cores) when it is already zero, which is the
// common case on the success path.
func reset(c *atomic.Uint32) {
	if c.Load() != 0 {
		c.Store(0)
	}
}

// paddedInt64 sits alone on its cache line: it is written on every
// ejection and read by every ejection attempt.
type paddedInt64 struct {
	_ [64]byte
	atomic.Int64
	_ [56]byte
}

// Detector is the outlier detector of one cluster.
type Detector struct {
	policy Policy
	// epoch anchors the int64 offsets stored per host; Rebuild keeps it.
	epoch  time.Time
	index  map[*lb.Host]*hostState // read-only after construction
	states []hostState

	mu     sync.Mutex // serialises Sweep and Rebuild
	active paddedInt64

	ejectionsTotal    atomic.Uint64
	ejectionsOverflow atomic.Uint64
	ejectionsByKind   [numKinds]atomic.Uint64
}

// New returns a Detector for the cluster's hosts. Nil and repeated hosts
// are ignored. The host count, which the ejection cap is computed against,
// is the number of distinct hosts: all priorities together, as in Envoy.
// now anchors the Detector's clock; later calls must pass instants from
// the same clock.
func New(p Policy, hosts []*lb.Host, now time.Time) *Detector {
	d := &Detector{policy: p.normalized(), epoch: now}
	d.states = make([]hostState, 0, len(hosts))
	d.index = make(map[*lb.Host]*hostState, len(hosts))
	seen := make(map[*lb.Host]bool, len(hosts))
	for _, h := range hosts {
		if h == nil || seen[h] {
			continue
		}
		seen[h] = true
		d.states = append(d.states, hostState{host: h})
	}
	for i := range d.states {
		d.index[d.states[i].host] = &d.states[i]
	}
	return d
}

// Policy returns the Detector's policy, with defaults filled in.
func (d *Detector) Policy() Policy { return d.policy }

// Report records the outcome of one attempt to h: the response status (0
// when none arrived) and whether the proxy itself failed the attempt
// (connect failure or timeout, reset). It returns true when this report
// ejected h, in which case the caller rebuilds its picker. See Classify
// and ReportResult.
func (d *Detector) Report(h *lb.Host, status int, localOriginFailure bool, now time.Time) (ejected bool) {
	return d.ReportResult(h, Classify(status, localOriginFailure), now)
}

// ReportResult records an already classified outcome; see Report. Hosts
// the Detector does not know are ignored. The success path is a map lookup
// and a few atomic loads; a threshold crossing ejects inline, as Envoy
// does, if the maxEjectionPercent cap allows. Like Envoy, a detector fires
// when its counter reaches the threshold exactly, so a host that keeps
// failing while already ejected (reached during panic) does not fire
// again; its counters restart when it returns.
func (d *Detector) ReportResult(h *lb.Host, r Result, now time.Time) (ejected bool) {
	s := d.index[h]
	if s == nil {
		return false
	}
	p := &d.policy
	split := p.SplitExternalLocalOrigin
	switch r {
	case Success:
		if split {
			reset(&s.cLocal)
		}
		reset(&s.c5xx)
		reset(&s.cGateway)
		return false
	case LocalOriginSuccess:
		if split {
			reset(&s.cLocal)
		}
		return false
	case LocalOriginFailure:
		if split {
			return d.bump(s, kindLocalOrigin, p.ConsecutiveLocalOrigin, now)
		}
		// Without split, Envoy reports a connect failure as 503 and a
		// timeout as 504: a gateway error.
		return d.gatewayError(s, now)
	case Gateway:
		if split {
			reset(&s.cLocal) // a response means the connection worked
		}
		return d.gatewayError(s, now)
	case HTTP5xx:
		if split {
			reset(&s.cLocal)
		}
		reset(&s.cGateway)
		return d.bump(s, kind5xx, p.Consecutive5xx, now)
	}
	return false
}

// gatewayError counts a gateway error toward both detectors, gateway
// first as Envoy evaluates it; once one has ejected the host the other
// finds it ejected and does nothing.
func (d *Detector) gatewayError(s *hostState, now time.Time) bool {
	if d.bump(s, kindGateway, d.policy.ConsecutiveGateway, now) {
		return true
	}
	return d.bump(s, kind5xx, d.policy.Consecutive5xx, now)
}

// bump increments a consecutive counter and tries to eject when it reaches
// a non-zero threshold.
func (d *Detector) bump(s *hostState, k kind, threshold uint32, now time.Time) bool {
	n := s.counter(k).Add(1)
	if threshold == 0 || n != threshold {
		return false
	}
	return d.eject(s, k, now)
}

// eject ejects s if it is in service and the cap allows (Envoy ejectHost).
// Whether or not the cap allowed it, the counter that fired restarts, so
// another full run of failures is needed before the next attempt. A host
// already ejected is left alone, counters included.
func (d *Detector) eject(s *hostState, k kind, now time.Time) bool {
	w := s.word.Load()
	if stateOf(w) != inService || !s.word.CompareAndSwap(w, word(multiplierOf(w), ejecting)) {
		return false
	}
	if !d.reserve() {
		s.word.Store(w)
		d.ejectionsOverflow.Add(1)
		s.counter(k).Store(0)
		return false
	}
	s.ejectedAt.Store(int64(now.Sub(d.epoch)))
	s.ejections.Add(1)
	s.word.Store(word(d.policy.nextMultiplier(multiplierOf(w)), ejected))
	s.counter(k).Store(0)
	d.ejectionsTotal.Add(1)
	d.ejectionsByKind[k].Add(1)
	return true
}

// reserve takes one slot of the ejection cap, strictly as Envoy since
// envoy#27909: 100 × (active+1) / hosts ≤ maxEjectionPercent, compared
// exactly in integers, unless AlwaysEjectOneHost and nothing is ejected.
func (d *Detector) reserve() bool {
	n := int64(len(d.states))
	pct := int64(d.policy.MaxEjectionPercent)
	for {
		a := d.active.Load()
		if 100*(a+1) > pct*n && !(d.policy.AlwaysEjectOneHost && a == 0) {
			return false
		}
		if d.active.CompareAndSwap(a, a+1) {
			return true
		}
	}
}

// Ejected reports whether h is currently ejected. Unknown hosts are not.
func (d *Detector) Ejected(h *lb.Host) bool {
	s := d.index[h]
	return s != nil && stateOf(s.word.Load()) == ejected
}
