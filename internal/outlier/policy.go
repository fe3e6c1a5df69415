package outlier

import "time"

// Policy configures a Detector. Its fields follow Envoy's
// config.cluster.v3.OutlierDetection as Istio fills it from a
// DestinationRule's outlierDetection (Istio's translation in
// applyOutlierDetection):
//
//	Istio field                     Policy field              Notes
//	consecutive5xxErrors            Consecutive5xx            default 5; 0 disables
//	consecutiveGatewayErrors        ConsecutiveGateway        default off (0)
//	consecutiveLocalOriginFailures  ConsecutiveLocalOrigin    default 5; used only when split
//	splitExternalLocalOriginErrors  SplitExternalLocalOrigin  default false
//	interval                        Interval                  default 10s
//	baseEjectionTime                BaseEjectionTime          default 30s
//	maxEjectionPercent              MaxEjectionPercent        default 10; Istio passes it only when > 0
//	(not exposed by Istio)          MaxEjectionTime           Envoy default 300s
//	(not exposed by Istio)          AlwaysEjectOneHost        Envoy always_eject_one_host, default false
//	minHealthPercent                (none)                    the panic threshold, see package lb/priority
//
// Which outcomes count where (Envoy outlier.rst and the detector's
// behaviour):
//   - a gateway error (502, 503, 504) counts toward both ConsecutiveGateway
//     and Consecutive5xx, so a gateway threshold at or above the 5xx one
//     never fires first; any other 5xx counts toward Consecutive5xx and
//     breaks a run of gateway errors; any non-5xx response resets both;
//   - without SplitExternalLocalOrigin, a local-origin failure (connect
//     failure or timeout, reset) counts as a gateway error, so toward both
//     counters, as Envoy maps it to 503 or 504;
//   - with SplitExternalLocalOrigin, local-origin failures count toward
//     ConsecutiveLocalOrigin only, and an established connection (any
//     response, or LocalOriginSuccess) resets that counter.
//
// Istio's translator sets consecutive_local_origin_failure only for a
// value above 0 and otherwise leaves Envoy's default of 5 in force, so a
// translator should turn an unset or zero consecutiveLocalOriginFailures
// into 5 when splitExternalLocalOriginErrors is true.
type Policy struct {
	// Consecutive5xx ejects a host after this many 5xx (and, without
	// split, local-origin failures) in a row; 0 disables the detector.
	Consecutive5xx uint32
	// ConsecutiveGateway ejects after this many gateway errors in a row;
	// 0 disables it (Envoy detects such runs by default but enforces 0%).
	ConsecutiveGateway uint32
	// ConsecutiveLocalOrigin ejects after this many local-origin failures
	// in a row when SplitExternalLocalOrigin is set; 0 disables it.
	ConsecutiveLocalOrigin uint32
	// SplitExternalLocalOrigin counts local-origin failures separately
	// from upstream responses.
	SplitExternalLocalOrigin bool
	// Interval is how often the caller runs Sweep. The Detector does not
	// time anything itself: every Sweep call counts as one interval.
	Interval time.Duration
	// BaseEjectionTime is the ejection time of a first ejection; the nth
	// consecutive ejection lasts n times as long.
	BaseEjectionTime time.Duration
	// MaxEjectionTime caps an ejection's length; a value below
	// BaseEjectionTime is raised to it.
	MaxEjectionTime time.Duration
	// MaxEjectionPercent caps the share of the cluster's hosts ejected at
	// once, strictly: a host is ejected only if
	// 100 × (ejected+1) / hosts ≤ MaxEjectionPercent. With the default of
	// 10 a cluster of fewer than 10 hosts ejects nothing. Values above 100
	// count as 100; 0 and below select the default 10, mirroring Istio,
	// which passes the field only when it is positive.
	MaxEjectionPercent int
	// AlwaysEjectOneHost allows the first ejection whatever the cap says
	// (Envoy 1.31's always_eject_one_host; older Envoy behaved so
	// unconditionally). Istio does not set it.
	AlwaysEjectOneHost bool
}

// Istio's and Envoy's defaults.
const (
	defaultConsecutive5xx         = 5
	defaultConsecutiveLocalOrigin = 5
	defaultInterval               = 10 * time.Second
	defaultBaseEjectionTime       = 30 * time.Second
	defaultMaxEjectionTime        = 300 * time.Second
	defaultMaxEjectionPercent     = 10
)

// DefaultPolicy returns what an Istio outlierDetection with no fields set
// amounts to: 5 consecutive 5xx, gateway detector off, 5 local-origin
// failures (split mode only, which is off), interval 10s, base ejection
// 30s, maximum ejection 300s, at most 10% of hosts ejected, strictly.
func DefaultPolicy() Policy {
	return Policy{
		Consecutive5xx:         defaultConsecutive5xx,
		ConsecutiveLocalOrigin: defaultConsecutiveLocalOrigin,
		Interval:               defaultInterval,
		BaseEjectionTime:       defaultBaseEjectionTime,
		MaxEjectionTime:        defaultMaxEjectionTime,
		MaxEjectionPercent:     defaultMaxEjectionPercent,
	}
}

// normalized fills unset durations with Envoy's defaults (a field Istio
// leaves unset takes Envoy's default, never zero) and brings the cap into
// range. MaxEjectionTime ends up at least BaseEjectionTime, as Envoy's
// default max(300s, base) does.
func (p Policy) normalized() Policy {
	if p.Interval <= 0 {
		p.Interval = defaultInterval
	}
	if p.BaseEjectionTime <= 0 {
		p.BaseEjectionTime = defaultBaseEjectionTime
	}
	if p.MaxEjectionTime <= 0 {
		p.MaxEjectionTime = defaultMaxEjectionTime
	}
	p.MaxEjectionTime = max(p.MaxEjectionTime, p.BaseEjectionTime)
	switch {
	case p.MaxEjectionPercent <= 0:
		p.MaxEjectionPercent = defaultMaxEjectionPercent
	case p.MaxEjectionPercent > 100:
		p.MaxEjectionPercent = 100
	}
	return p
}

// ejectionTime is how long an ejection with the given multiplier lasts:
// base × multiplier, at most MaxEjectionTime (Envoy
// checkHostForUneject). p must be normalized.
func (p Policy) ejectionTime(multiplier uint64) time.Duration {
	// multiplier × base never exceeds MaxEjectionTime + base (see
	// nextMultiplier), so the product cannot overflow.
	return min(time.Duration(multiplier)*p.BaseEjectionTime, p.MaxEjectionTime)
}

// nextMultiplier is the multiplier after one more ejection. Envoy raises
// it only while base × multiplier < max + base, so it stops one step past
// the cap and the decay back to 0 takes a bounded number of intervals.
func (p Policy) nextMultiplier(m uint64) uint64 {
	if time.Duration(m)*p.BaseEjectionTime < p.MaxEjectionTime+p.BaseEjectionTime {
		return m + 1
	}
	return m
}

// Result is the outcome of one upstream attempt, as the detector sees it.
type Result uint8

// Results.
const (
	// Success is a response that is not a 5xx (or a completed non-HTTP
	// exchange). It resets the 5xx and gateway counters and, in split
	// mode, the local-origin counter.
	Success Result = iota
	// HTTP5xx is a 5xx response other than a gateway error.
	HTTP5xx
	// Gateway is a 502, 503 or 504 response.
	Gateway
	// LocalOriginFailure is a failure seen by the proxy itself: connect
	// failure or timeout, connection reset, request timeout.
	LocalOriginFailure
	// LocalOriginSuccess is a connection established with no response
	// outcome yet (a TCP proxy's connect). Only split mode uses it: it
	// resets the local-origin counter.
	LocalOriginSuccess
)

var resultNames = [...]string{
	Success: "success", HTTP5xx: "5xx", Gateway: "gateway_error",
	LocalOriginFailure: "local_origin_failure", LocalOriginSuccess: "local_origin_success",
}

func (r Result) String() string {
	if int(r) < len(resultNames) {
		return resultNames[r]
	}
	return "unknown"
}

// Classify maps an attempt to a Result: a local-origin failure wins over
// any status; 502-504 are gateway errors; other 500-599 are 5xx; a status
// of 0 or below means no response (LocalOriginSuccess); anything else is a
// success.
func Classify(status int, localOriginFailure bool) Result {
	switch {
	case localOriginFailure:
		return LocalOriginFailure
	case status == 502 || status == 503 || status == 504:
		return Gateway
	case status >= 500 && status <= 599:
		return HTTP5xx
	case status <= 0:
		return LocalOriginSuccess
	}
	return Success
}
