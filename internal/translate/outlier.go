package translate

import (
	"fmt"
	"strconv"
	"time"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/snapshot"
	"google.golang.org/protobuf/types/known/durationpb"
	networkingv1 "istio.io/api/networking/v1"
)

// Outlier-detection defaults: Istio's API defaults, and Envoy's for what
// Istio leaves unset (API-DR OutlierDetection, Envoy outlier_detection.proto).
const (
	defaultConsecutive5xx         = 5
	defaultConsecutiveLocalOrigin = 5
	defaultOutlierInterval        = 10 * time.Second
	defaultBaseEjectionTime       = 30 * time.Second
	// defaultMaxEjectionTime is Envoy's max_ejection_time, which Istio
	// does not expose: 300s, or the base ejection time if that is longer.
	defaultMaxEjectionTime    = 300 * time.Second
	defaultMaxEjectionPercent = 10
	// minOutlierDuration is the least interval or base ejection time
	// Istio's API accepts ("MUST be >=1ms").
	minOutlierDuration = time.Millisecond
	// envoyPanicThreshold is Envoy's default healthy_panic_threshold, in
	// force when Istio does not set one.
	envoyPanicThreshold = 50
)

// outlierPolicy translates outlierDetection the way Istio's
// applyOutlierDetection fills Envoy's, with the defaults applied so the
// data plane and the dump show what is in force. nil means no outlier
// detection.
func (b *builder) outlierPolicy(od *networkingv1.OutlierDetection, src policySource) *snapshot.OutlierPolicy {
	if od == nil {
		return nil
	}
	p := &snapshot.OutlierPolicy{
		// Unset consecutive5xxErrors leaves Envoy's 5 (enforced); an
		// explicit 0 disables the detector.
		Consecutive5xx: defaultConsecutive5xx,
		// consecutiveGatewayErrors is off unless set above 0.
		ConsecutiveGatewayErrors: od.GetConsecutiveGatewayErrors().GetValue(),
		// Istio passes consecutiveLocalOriginFailures only when split is on
		// and the value is above 0; otherwise Envoy's default of 5 stays,
		// so an explicit 0 does not disable it. Only split mode uses it.
		ConsecutiveLocalOriginFailures: defaultConsecutiveLocalOrigin,
		SplitExternalLocalOriginErrors: od.GetSplitExternalLocalOriginErrors(),
		Interval:                       b.outlierDuration(od.GetInterval(), defaultOutlierInterval, src, "interval"),
		BaseEjectionTime:               b.outlierDuration(od.GetBaseEjectionTime(), defaultBaseEjectionTime, src, "baseEjectionTime"),
		MaxEjectionPercent:             defaultMaxEjectionPercent,
	}
	if v := od.GetConsecutive_5XxErrors(); v != nil {
		p.Consecutive5xx = v.GetValue()
	}
	if v := od.GetConsecutiveLocalOriginFailures().GetValue(); v > 0 {
		p.ConsecutiveLocalOriginFailures = v
	}
	p.MaxEjectionTime = max(defaultMaxEjectionTime, p.BaseEjectionTime)

	// Istio passes maxEjectionPercent only when it is above 0, so 0 means
	// Envoy's default of 10, not "never eject".
	switch m := od.GetMaxEjectionPercent(); {
	case m > 100:
		b.report(&src.dr.Meta, diag.Warning, CodeOutlierValue, src.field+".maxEjectionPercent",
			fmt.Sprintf("maxEjectionPercent %d is above 100; 100 is used", m), "Istio's validation accepts 0 to 100")
		p.MaxEjectionPercent = 100
	case m < 0:
		b.report(&src.dr.Meta, diag.Warning, CodeOutlierValue, src.field+".maxEjectionPercent",
			fmt.Sprintf("maxEjectionPercent %d is negative; the default %d is used", m, defaultMaxEjectionPercent),
			"Istio's validation accepts 0 to 100")
	case m > 0:
		p.MaxEjectionPercent = uint32(m)
	}
	return p
}

// outlierDuration reads an interval or base ejection time; one below 1ms,
// which Istio's validation rejects, becomes the default.
func (b *builder) outlierDuration(d *durationpb.Duration, def time.Duration, src policySource, name string) time.Duration {
	if d == nil {
		return def
	}
	if v := d.AsDuration(); v >= minOutlierDuration {
		return v
	}
	b.report(&src.dr.Meta, diag.Warning, CodeOutlierValue, src.field+"."+name,
		fmt.Sprintf("%s %s is below 1ms; the default %s is used", name, d.AsDuration(), def),
		"Istio's validation requires at least 1ms")
	return def
}

// panicThreshold is the cluster's healthy panic threshold (Envoy
// healthy_panic_threshold), as Istio sets it:
//   - 0 for a service with a traffic distribution: Istio then sends
//     unready endpoints too, so that readiness drives failover, and panic
//     mode would route to them (ForcesSupportUnhealthyEndpoints). This
//     holds even when a DestinationRule overrides the locality setting,
//     since it is a property of the service;
//   - outlierDetection's minHealthPercent whenever outlier detection is
//     on, 0 (panic off) by default;
//   - otherwise Envoy's default, 50.
func (b *builder) panicThreshold(svc *service, od *networkingv1.OutlierDetection, src policySource) uint32 {
	switch {
	case svc.td.mode != "":
		return 0
	case od == nil:
		return envoyPanicThreshold
	}
	m := od.GetMinHealthPercent()
	if m < 0 || m > 100 {
		clamped := min(max(m, 0), 100)
		b.report(&src.dr.Meta, diag.Warning, CodeOutlierValue, src.field+".minHealthPercent",
			fmt.Sprintf("minHealthPercent %d is outside 0 to 100; %d is used", m, clamped), "")
		m = clamped
	}
	return uint32(m)
}

// reportEjectionCap warns when outlier detection can never eject a host of
// the cluster. Envoy ejects a host only if
// 100 × (ejected + 1) / hosts ≤ maxEjectionPercent, strictly (Istio does
// not set always_eject_one_host), so with n hosts even the first ejection
// needs maxEjectionPercent ≥ 100/n: with the default 10, a cluster of
// fewer than 10 endpoints ejects nothing and locality failover driven by
// outlier detection never happens.
func (b *builder) reportEjectionCap(c *snapshot.Cluster, src policySource) {
	p, n := c.Outlier, uint32(len(c.Endpoints))
	if p == nil || n == 0 || p.AlwaysEjectOneHost {
		return
	}
	if p.Consecutive5xx == 0 && p.ConsecutiveGatewayErrors == 0 && !p.SplitExternalLocalOriginErrors {
		return // no detector is on: nothing would be ejected anyway
	}
	if p.MaxEjectionPercent*n >= 100 {
		return
	}
	need := (100 + n - 1) / n
	b.report(&src.dr.Meta, diag.Warning, CodeMaxEjectionPercent, src.field+".maxEjectionPercent",
		fmt.Sprintf("%s has %d endpoint%s, so ejecting one is %s%% of them, above maxEjectionPercent %d%%; Envoy's check is strict, so outlier detection never ejects a host of this cluster",
			c.Name, n, plural(n), strconv.FormatFloat(100/float64(n), 'f', -1, 32), p.MaxEjectionPercent),
		fmt.Sprintf("set maxEjectionPercent to at least %d to allow one ejection among %d endpoint%s", need, n, plural(n)))
}

func plural(n uint32) string {
	if n == 1 {
		return ""
	}
	return "s"
}
