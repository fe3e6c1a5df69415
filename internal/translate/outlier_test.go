package translate

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/meshgate/meshgate/internal/snapshot"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	networkingv1 "istio.io/api/networking/v1"
)

func testSource() policySource {
	return policySource{
		dr:    destinationRuleObj("default", "dr", &networkingv1.DestinationRule{Host: "x"}),
		field: "spec.trafficPolicy.outlierDetection",
	}
}

// TestOutlierPolicy checks Istio's defaults and translation quirks.
func TestOutlierPolicy(t *testing.T) {
	defaults := snapshot.OutlierPolicy{
		Consecutive5xx:                 5,
		ConsecutiveLocalOriginFailures: 5,
		Interval:                       10 * time.Second,
		BaseEjectionTime:               30 * time.Second,
		MaxEjectionTime:                300 * time.Second,
		MaxEjectionPercent:             10,
	}
	with := func(f func(*snapshot.OutlierPolicy)) *snapshot.OutlierPolicy {
		p := defaults
		f(&p)
		return &p
	}
	tests := []struct {
		name  string
		in    *networkingv1.OutlierDetection
		want  *snapshot.OutlierPolicy
		warns bool
	}{
		{"absent", nil, nil, false},
		{"empty takes every default", &networkingv1.OutlierDetection{}, &defaults, false},
		{"consecutive5xxErrors 0 disables", &networkingv1.OutlierDetection{Consecutive_5XxErrors: wrapperspb.UInt32(0)},
			with(func(p *snapshot.OutlierPolicy) { p.Consecutive5xx = 0 }), false},
		{"gateway errors", &networkingv1.OutlierDetection{ConsecutiveGatewayErrors: wrapperspb.UInt32(2)},
			with(func(p *snapshot.OutlierPolicy) { p.ConsecutiveGatewayErrors = 2 }), false},
		{"local origin 0 keeps Envoy's 5", &networkingv1.OutlierDetection{
			SplitExternalLocalOriginErrors: true, ConsecutiveLocalOriginFailures: wrapperspb.UInt32(0)},
			with(func(p *snapshot.OutlierPolicy) { p.SplitExternalLocalOriginErrors = true }), false},
		{"local origin set", &networkingv1.OutlierDetection{
			SplitExternalLocalOriginErrors: true, ConsecutiveLocalOriginFailures: wrapperspb.UInt32(9)},
			with(func(p *snapshot.OutlierPolicy) {
				p.SplitExternalLocalOriginErrors, p.ConsecutiveLocalOriginFailures = true, 9
			}), false},
		{"durations", &networkingv1.OutlierDetection{
			Interval: durationpb.New(time.Second), BaseEjectionTime: durationpb.New(time.Minute)},
			with(func(p *snapshot.OutlierPolicy) { p.Interval, p.BaseEjectionTime = time.Second, time.Minute }), false},
		{"long base ejection raises the maximum", &networkingv1.OutlierDetection{BaseEjectionTime: durationpb.New(10 * time.Minute)},
			with(func(p *snapshot.OutlierPolicy) {
				p.BaseEjectionTime, p.MaxEjectionTime = 10*time.Minute, 10*time.Minute
			}), false},
		{"sub-millisecond interval is invalid", &networkingv1.OutlierDetection{Interval: durationpb.New(0)},
			&defaults, true},
		{"maxEjectionPercent 0 means the default", &networkingv1.OutlierDetection{MaxEjectionPercent: 0}, &defaults, false},
		{"maxEjectionPercent set", &networkingv1.OutlierDetection{MaxEjectionPercent: 100},
			with(func(p *snapshot.OutlierPolicy) { p.MaxEjectionPercent = 100 }), false},
		{"maxEjectionPercent above 100", &networkingv1.OutlierDetection{MaxEjectionPercent: 150},
			with(func(p *snapshot.OutlierPolicy) { p.MaxEjectionPercent = 100 }), true},
		{"negative maxEjectionPercent", &networkingv1.OutlierDetection{MaxEjectionPercent: -1}, &defaults, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &builder{reported: map[string]bool{}}
			got := b.outlierPolicy(tt.in, testSource())
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("policy (-want +got):\n%s", diff)
			}
			if warned := hasCode(b.diags, CodeOutlierValue); warned != tt.warns {
				t.Errorf("warning = %v, want %v: %v", warned, tt.warns, b.diags)
			}
		})
	}
}

// TestPanicThreshold checks the three sources of the panic threshold.
func TestPanicThreshold(t *testing.T) {
	plain := &service{}
	zonal := &service{td: trafficDistribution{mode: tdPreferSameZone}}
	tests := []struct {
		name string
		svc  *service
		od   *networkingv1.OutlierDetection
		want uint32
	}{
		{"Envoy's default without outlier detection", plain, nil, 50},
		{"outlier detection disables panic by default", plain, &networkingv1.OutlierDetection{}, 0},
		{"minHealthPercent", plain, &networkingv1.OutlierDetection{MinHealthPercent: 30}, 30},
		{"traffic distribution forces 0", zonal, &networkingv1.OutlierDetection{MinHealthPercent: 30}, 0},
		{"traffic distribution without outlier detection", zonal, nil, 0},
		{"out of range is clamped", plain, &networkingv1.OutlierDetection{MinHealthPercent: 120}, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &builder{reported: map[string]bool{}}
			if got := b.panicThreshold(tt.svc, tt.od, testSource()); got != tt.want {
				t.Errorf("panicThreshold = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestEjectionCap checks the warning for clusters too small for their
// maxEjectionPercent: Envoy ejects only if 100*(ejected+1)/hosts <= max.
func TestEjectionCap(t *testing.T) {
	tests := []struct {
		name      string
		endpoints int
		policy    snapshot.OutlierPolicy
		want      string // substring of the hint; "" for no warning
	}{
		{"9 endpoints at the default 10%", 9, snapshot.OutlierPolicy{Consecutive5xx: 5, MaxEjectionPercent: 10}, "at least 12 "},
		{"10 endpoints at 10%", 10, snapshot.OutlierPolicy{Consecutive5xx: 5, MaxEjectionPercent: 10}, ""},
		{"1 endpoint needs 100%", 1, snapshot.OutlierPolicy{Consecutive5xx: 5, MaxEjectionPercent: 99}, "at least 100 "},
		{"3 endpoints need 34%", 3, snapshot.OutlierPolicy{Consecutive5xx: 5, MaxEjectionPercent: 33}, "at least 34 "},
		{"3 endpoints at 34%", 3, snapshot.OutlierPolicy{Consecutive5xx: 5, MaxEjectionPercent: 34}, ""},
		{"no endpoints", 0, snapshot.OutlierPolicy{Consecutive5xx: 5, MaxEjectionPercent: 10}, ""},
		{"no detector on", 2, snapshot.OutlierPolicy{MaxEjectionPercent: 10}, ""},
		{"gateway detector alone", 2, snapshot.OutlierPolicy{ConsecutiveGatewayErrors: 3, MaxEjectionPercent: 10}, "at least 50 "},
		{"always eject one host", 2, snapshot.OutlierPolicy{Consecutive5xx: 5, MaxEjectionPercent: 10, AlwaysEjectOneHost: true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &builder{reported: map[string]bool{}}
			p := tt.policy
			c := &snapshot.Cluster{Name: "outbound|80||x", Outlier: &p, Endpoints: make([]snapshot.Endpoint, tt.endpoints)}
			b.reportEjectionCap(c, testSource())
			switch {
			case tt.want == "" && len(b.diags) > 0:
				t.Errorf("unexpected warning: %v", b.diags)
			case tt.want != "" && (len(b.diags) != 1 || b.diags[0].Code != CodeMaxEjectionPercent ||
				!strings.Contains(b.diags[0].Hint, tt.want)):
				t.Errorf("want one %s warning with hint %q, got %v", CodeMaxEjectionPercent, tt.want, b.diags)
			}
		})
	}
}
