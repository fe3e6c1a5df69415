package outlier

import (
	"time"

	"github.com/meshgate/meshgate/internal/lb"
)

// Sweep is the interval timer's work (Envoy onIntervalTimer), to be called
// once per Policy.Interval; every call counts as one interval. It returns
// ejected hosts whose ejection time has elapsed to service, clearing their
// consecutive counters so a few new errors cannot re-eject them at once,
// and lowers by one the multiplier of every host in service, so a host
// that stays healthy for multiplier intervals is back to the base
// ejection time. A host is returned at the first Sweep at or after its
// ejection end, never before, so the granularity is the interval. Sweep
// reports whether any host returned; the caller then rebuilds its picker.
func (d *Detector) Sweep(now time.Time) (changed bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	elapsed := int64(now.Sub(d.epoch))
	for i := range d.states {
		if d.sweepHost(&d.states[i], elapsed) {
			changed = true
		}
	}
	return changed
}

// sweepHost does one interval's work for one host and reports whether the
// host returned to service.
func (d *Detector) sweepHost(s *hostState, elapsed int64) (returned bool) {
	for {
		w := s.word.Load()
		switch stateOf(w) {
		case inService:
			// Envoy decrements on every tick that finds the host not
			// ejected, including the ticks right after its return.
			m := multiplierOf(w)
			if m == 0 || s.word.CompareAndSwap(w, word(m-1, inService)) {
				return false
			}
			// An ejection raced in; look again.
		case ejected:
			if elapsed-s.ejectedAt.Load() < int64(d.policy.ejectionTime(multiplierOf(w))) {
				return false
			}
			s.c5xx.Store(0)
			s.cGateway.Store(0)
			s.cLocal.Store(0)
			// Only Sweep, under mu, moves a host out of the ejected state.
			s.word.Store(word(multiplierOf(w), inService))
			d.active.Add(-1)
			return true
		default: // ejecting: a Report is deciding; the next Sweep will see it
			return false
		}
	}
}

// Rebuild returns a Detector for a new policy and host list that keeps
// the state of every host present in both lists (host identity is the
// *lb.Host pointer, which the data plane keeps across reloads): ejection
// and its end, multiplier, counters. Hosts no longer listed are dropped,
// freeing their share of the ejection cap; new hosts start in service. The
// cluster-wide ejection counters carry over. Ejections already in force
// stay even if the new policy's cap would not have allowed them; the new
// policy's times apply from the next Sweep. Reports still arriving at d
// after Rebuild returns are not carried over. A nil d behaves as New.
func (d *Detector) Rebuild(p Policy, hosts []*lb.Host, now time.Time) *Detector {
	if d == nil {
		return New(p, hosts, now)
	}
	nd := New(p, hosts, d.epoch)
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range nd.states {
		s := &nd.states[i]
		old := d.index[s.host]
		if old == nil {
			continue
		}
		w := old.word.Load()
		if stateOf(w) == ejecting {
			// The ejection is still being decided on d; it stays there.
			w = word(multiplierOf(w), inService)
		}
		s.word.Store(w)
		s.ejectedAt.Store(old.ejectedAt.Load())
		s.c5xx.Store(old.c5xx.Load())
		s.cGateway.Store(old.cGateway.Load())
		s.cLocal.Store(old.cLocal.Load())
		s.ejections.Store(old.ejections.Load())
		if stateOf(w) == ejected {
			nd.active.Add(1)
		}
	}
	nd.ejectionsTotal.Store(d.ejectionsTotal.Load())
	nd.ejectionsOverflow.Store(d.ejectionsOverflow.Load())
	for k := range d.ejectionsByKind {
		nd.ejectionsByKind[k].Store(d.ejectionsByKind[k].Load())
	}
	return nd
}

// HostStatus is one host's detector state, for the admin API.
type HostStatus struct {
	// Ejected reports that the host is out of the load-balancing set.
	Ejected bool `json:"ejected"`
	// EjectedUntil is when the ejection time ends; the host returns at
	// the first Sweep at or after it. Zero when not ejected.
	EjectedUntil time.Time `json:"ejectedUntil,omitzero"`
	// Ejections counts the host's ejections since it was first tracked.
	Ejections int `json:"ejections"`
	// Multiplier is the ejection-time multiplier: the next ejection lasts
	// BaseEjectionTime × (Multiplier+1), capped.
	Multiplier int `json:"multiplier"`
	// The consecutive failure counters.
	Consecutive5xx         uint32 `json:"consecutive5xx"`
	ConsecutiveGateway     uint32 `json:"consecutiveGatewayFailure"`
	ConsecutiveLocalOrigin uint32 `json:"consecutiveLocalOriginFailure"`
}

// Status returns h's state as of now; an unknown host has the zero status.
func (d *Detector) Status(h *lb.Host, now time.Time) HostStatus {
	s := d.index[h]
	if s == nil {
		return HostStatus{}
	}
	w := s.word.Load()
	st := HostStatus{
		Ejected:                stateOf(w) == ejected,
		Ejections:              int(s.ejections.Load()),
		Multiplier:             int(multiplierOf(w)),
		Consecutive5xx:         s.c5xx.Load(),
		ConsecutiveGateway:     s.cGateway.Load(),
		ConsecutiveLocalOrigin: s.cLocal.Load(),
	}
	if st.Ejected {
		end := s.ejectedAt.Load() + int64(d.policy.ejectionTime(multiplierOf(w)))
		// Expressed from now so the result is on the caller's clock.
		st.EjectedUntil = now.Add(time.Duration(end - int64(now.Sub(d.epoch))))
	}
	return st
}

// Stats are the cluster's outlier detection counters, named after Envoy's
// outlier_detection.* statistics.
type Stats struct {
	// Hosts is the number of hosts the cap is computed against.
	Hosts int `json:"hosts"`
	// EjectionsActive is the number of hosts ejected now.
	EjectionsActive int `json:"ejectionsActive"`
	// EjectionsTotal counts enforced ejections (ejections_enforced_total).
	EjectionsTotal uint64 `json:"ejectionsTotal"`
	// EjectionsOverflow counts ejections refused by MaxEjectionPercent.
	EjectionsOverflow uint64 `json:"ejectionsOverflow"`
	// Enforced ejections by detector.
	EjectionsConsecutive5xx         uint64 `json:"ejectionsConsecutive5xx"`
	EjectionsConsecutiveGateway     uint64 `json:"ejectionsConsecutiveGatewayFailure"`
	EjectionsConsecutiveLocalOrigin uint64 `json:"ejectionsConsecutiveLocalOriginFailure"`
}

// Stats returns the Detector's counters.
func (d *Detector) Stats() Stats {
	return Stats{
		Hosts:                           len(d.states),
		EjectionsActive:                 int(d.active.Load()),
		EjectionsTotal:                  d.ejectionsTotal.Load(),
		EjectionsOverflow:               d.ejectionsOverflow.Load(),
		EjectionsConsecutive5xx:         d.ejectionsByKind[kind5xx].Load(),
		EjectionsConsecutiveGateway:     d.ejectionsByKind[kindGateway].Load(),
		EjectionsConsecutiveLocalOrigin: d.ejectionsByKind[kindLocalOrigin].Load(),
	}
}
