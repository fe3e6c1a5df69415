package upstream

import (
	"time"

	"github.com/meshgate/meshgate/internal/lb"
	"github.com/meshgate/meshgate/internal/outlier"
	"github.com/meshgate/meshgate/internal/snapshot"
)

// outlierState is a cluster's outlier detection across snapshots: the
// detector (rebuilt for each snapshot from the previous one, so state of
// hosts that remain carries over) and when its next sweep is due.
type outlierState struct {
	detector *outlier.Detector
	interval time.Duration
	next     time.Time
}

// update adopts a snapshot's policy and hosts. A cluster that loses its
// policy forgets its state; one that gains it starts its interval now.
func (o *outlierState) update(p *snapshot.OutlierPolicy, hosts []*lb.Host, now time.Time) {
	if p == nil {
		*o = outlierState{}
		return
	}
	o.detector = o.detector.Rebuild(policyOf(p), hosts, now)
	iv := o.detector.Policy().Interval
	// Keep the running schedule across reloads, unless a shorter
	// interval would now fire sooner.
	if o.next.IsZero() || (iv != o.interval && now.Add(iv).Before(o.next)) {
		o.next = now.Add(iv)
	}
	o.interval = iv
}

// policyOf converts the snapshot's policy; both carry Istio's defaults.
func policyOf(p *snapshot.OutlierPolicy) outlier.Policy {
	return outlier.Policy{
		Consecutive5xx:           p.Consecutive5xx,
		ConsecutiveGateway:       p.ConsecutiveGatewayErrors,
		ConsecutiveLocalOrigin:   p.ConsecutiveLocalOriginFailures,
		SplitExternalLocalOrigin: p.SplitExternalLocalOriginErrors,
		Interval:                 p.Interval,
		BaseEjectionTime:         p.BaseEjectionTime,
		MaxEjectionTime:          p.MaxEjectionTime,
		MaxEjectionPercent:       int(min(p.MaxEjectionPercent, 1000)),
		AlwaysEjectOneHost:       p.AlwaysEjectOneHost,
	}
}

// Report records how one attempt to h ended, for outlier detection: the
// response status (0 when no response arrived) and whether the gateway
// itself failed the attempt (connect failure, reset, timeout). When the
// report ejects h the picker is rebuilt at once, so the next request
// already avoids it. Without outlier detection it does nothing.
func (c *Cluster) Report(h *lb.Host, status int, localOriginFailure bool) {
	d := c.detector
	if d == nil {
		return
	}
	if d.Report(h, status, localOriginFailure, c.now()) {
		c.rebuild()
	}
}

// Sweep does the interval work of every cluster whose outlier-detection
// interval has come round by now: ejected hosts whose time is up return,
// multipliers decay, and clusters where hosts returned get a new picker.
// Each cluster is swept at most once per call, and its next sweep is due
// one interval after the last one was (or after now, when sweeps fell
// behind). Sweep returns when the next sweep is due, or the zero time
// when no cluster uses outlier detection.
func (r *Registry) Sweep(now time.Time) (next time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.current == nil {
		return time.Time{}
	}
	for name, c := range r.current.clusters {
		st := r.clusters[name]
		if st == nil || st.outlier.detector == nil {
			continue
		}
		o := &st.outlier
		if !now.Before(o.next) {
			if o.detector.Sweep(now) {
				c.rebuild()
			}
			o.next = o.next.Add(o.interval)
			if !o.next.After(now) {
				o.next = now.Add(o.interval)
			}
		}
		if next.IsZero() || o.next.Before(next) {
			next = o.next
		}
	}
	return next
}
