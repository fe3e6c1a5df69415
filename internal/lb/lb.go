// Package lb holds the load-balancing algorithms: given the hosts of one
// cluster, a Picker chooses the host for each request. Pickers are built
// once per endpoint set (on config change or health change, the slow path)
// and are immutable afterwards; Pick is the hot path and must not block or
// allocate.
package lb

import (
	"math/rand/v2"
	"sync/atomic"

	"github.com/meshgate/meshgate/internal/snapshot"
)

// Host is one upstream endpoint as the balancers see it. A Host outlives
// snapshots: the data plane keeps one per endpoint identity, so counters
// such as active requests survive configuration reloads.
type Host struct {
	// Address is "ip:port".
	Address string
	// Weight is the load-balancing weight, at least 1.
	Weight uint32

	active atomic.Int64
}

// NewHost returns a Host with the given address and weight (0 means 1).
func NewHost(address string, weight uint32) *Host {
	if weight == 0 {
		weight = 1
	}
	return &Host{Address: address, Weight: weight}
}

// Active returns the number of requests in flight to the host.
func (h *Host) Active() int64 { return h.active.Load() }

// Begin records the start of a request to the host; call End exactly once
// when the request ends.
func (h *Host) Begin() { h.active.Add(1) }

// End records the end of a request started with Begin.
func (h *Host) End() { h.active.Add(-1) }

// Request carries what a Picker may use about the request being balanced.
type Request struct {
	// Hash is the request's consistent-hash key, valid when HasHash is true
	// (RING_HASH and MAGLEV). Without a hash those policies pick at random.
	Hash    uint64
	HasHash bool
	// Exclude lists hosts already tried by earlier attempts of the same
	// request; pickers avoid them while another host is available.
	Exclude []*Host
}

// Excluded reports whether h is in r.Exclude.
func (r *Request) Excluded(h *Host) bool {
	if r == nil {
		return false
	}
	for _, x := range r.Exclude {
		if x == h {
			return true
		}
	}
	return false
}

// Picker chooses a host. Implementations are safe for concurrent use and
// return nil only when they hold no hosts.
type Picker interface {
	Pick(r *Request) *Host
}

// Rand is the source of randomness used by pickers; tests inject a
// deterministic one. IntN returns a value in [0, n).
type Rand interface {
	IntN(n int) int
	Uint64() uint64
}

// Options tunes the Pickers built by New.
type Options struct {
	// Rand is the source of randomness and must be safe for concurrent
	// use; nil selects math/rand/v2's global generator, which is
	// goroutine-safe without locking.
	Rand Rand
}

// globalRand is the default Rand. The global math/rand/v2 functions draw
// from per-thread runtime state, so concurrent Picks do not contend.
type globalRand struct{}

func (globalRand) IntN(n int) int { return rand.IntN(n) }
func (globalRand) Uint64() uint64 { return rand.Uint64() }

// New builds the Picker for one endpoint set under policy. hosts is copied;
// nil entries are ignored and a Weight of 0 counts as 1. With no hosts the
// Picker returns nil. An empty or unknown policy.Kind selects
// LEAST_REQUEST, Istio's default.
//
// Request.Exclude is honoured by ROUND_ROBIN, LEAST_REQUEST and RANDOM but
// ignored by RING_HASH and MAGLEV: Istio omits the previous-hosts retry
// predicate on consistent-hash routes, so a retry goes back to the host the
// key maps to.
func New(policy snapshot.LBPolicy, hosts []*Host, opts Options) Picker {
	rnd := opts.Rand
	if rnd == nil {
		rnd = globalRand{}
	}
	hs := make([]*Host, 0, len(hosts))
	for _, h := range hosts {
		if h != nil {
			hs = append(hs, h)
		}
	}
	switch len(hs) {
	case 0:
		return emptyPicker{}
	case 1:
		return singlePicker{host: hs[0]}
	}
	switch policy.Kind {
	case snapshot.LBRoundRobin:
		return newRoundRobin(hs, rnd, maxSchedule)
	case snapshot.LBRandom:
		return newRandom(hs, rnd)
	case snapshot.LBRingHash:
		return newRingHash(hs, rnd, policy.RingSize)
	case snapshot.LBMaglev:
		return newMaglev(hs, rnd, policy.TableSize)
	default:
		return newLeastRequest(hs, rnd)
	}
}

// emptyPicker serves an endpoint set with no hosts.
type emptyPicker struct{}

func (emptyPicker) Pick(*Request) *Host { return nil }

// singlePicker serves a one-host set: every policy, and every retry, ends
// up on that host.
type singlePicker struct{ host *Host }

func (p singlePicker) Pick(*Request) *Host { return p.host }
