package translate

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/meshgate/meshgate/internal/snapshot"
	"google.golang.org/protobuf/types/known/durationpb"
	networkingv1 "istio.io/api/networking/v1"
)

// TestConnectionLimits checks Istio's applyConnectionPool: breakers only
// count above 0, http.idleTimeout wins over tcp.idleTimeout, which
// defaults to 1h and turns off at 0s; connectTimeout defaults to 10s.
func TestConnectionLimits(t *testing.T) {
	d := durationpb.New
	tests := []struct {
		name     string
		in       *networkingv1.ConnectionPoolSettings
		protocol snapshot.UpstreamProtocol
		want     snapshot.ConnectionLimits
		connect  time.Duration
		diags    string
	}{
		{"none", nil, snapshot.UpstreamHTTP1, snapshot.ConnectionLimits{IdleTimeout: time.Hour}, 10 * time.Second, ""},
		{"everything", &networkingv1.ConnectionPoolSettings{
			Tcp: &networkingv1.ConnectionPoolSettings_TCPSettings{
				MaxConnections: 10, ConnectTimeout: d(time.Second), MaxConnectionDuration: d(time.Minute),
				TcpKeepalive: &networkingv1.ConnectionPoolSettings_TCPSettings_TcpKeepalive{Probes: 2, Time: d(time.Minute)},
				IdleTimeout:  d(5 * time.Minute),
			},
			Http: &networkingv1.ConnectionPoolSettings_HTTPSettings{
				Http1MaxPendingRequests: 1, Http2MaxRequests: 2, MaxRequestsPerConnection: 3, MaxRetries: 4,
				MaxConcurrentStreams: 5, IdleTimeout: d(30 * time.Second),
			},
		}, snapshot.UpstreamH2C, snapshot.ConnectionLimits{
			MaxConnections: 10, MaxPendingRequests: 1, MaxRequests: 2, MaxRequestsPerConnection: 3, MaxRetries: 4,
			MaxConcurrentStreams: 5, IdleTimeout: 30 * time.Second, MaxConnectionDuration: time.Minute,
			TCPKeepalive: &snapshot.TCPKeepalive{Probes: 2, Time: time.Minute},
		}, time.Second, ""},
		{"tcp idle timeout used for http", &networkingv1.ConnectionPoolSettings{
			Tcp: &networkingv1.ConnectionPoolSettings_TCPSettings{IdleTimeout: d(time.Minute)},
		}, snapshot.UpstreamHTTP1, snapshot.ConnectionLimits{IdleTimeout: time.Minute}, 10 * time.Second, ""},
		{"tcp idle timeout 0s disables", &networkingv1.ConnectionPoolSettings{
			Tcp: &networkingv1.ConnectionPoolSettings_TCPSettings{IdleTimeout: d(0)},
		}, snapshot.UpstreamHTTP1, snapshot.ConnectionLimits{}, 10 * time.Second, ""},
		{"empty keepalive turns it on", &networkingv1.ConnectionPoolSettings{
			Tcp: &networkingv1.ConnectionPoolSettings_TCPSettings{TcpKeepalive: &networkingv1.ConnectionPoolSettings_TCPSettings_TcpKeepalive{}},
		}, snapshot.UpstreamHTTP1, snapshot.ConnectionLimits{IdleTimeout: time.Hour, TCPKeepalive: &snapshot.TCPKeepalive{}}, 10 * time.Second, ""},
		{"negative values use defaults", &networkingv1.ConnectionPoolSettings{
			Tcp:  &networkingv1.ConnectionPoolSettings_TCPSettings{MaxConnections: -1, ConnectTimeout: d(0)},
			Http: &networkingv1.ConnectionPoolSettings_HTTPSettings{MaxRetries: -1, IdleTimeout: d(0)},
		}, snapshot.UpstreamHTTP1, snapshot.ConnectionLimits{IdleTimeout: time.Hour}, 10 * time.Second,
			"warning MG1814,warning MG1814,warning MG1814,warning MG1814"},
		{"streams need HTTP/2", &networkingv1.ConnectionPoolSettings{
			Http: &networkingv1.ConnectionPoolSettings_HTTPSettings{MaxConcurrentStreams: 5},
		}, snapshot.UpstreamHTTP1, snapshot.ConnectionLimits{IdleTimeout: time.Hour}, 10 * time.Second, "warning MG1814"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &builder{reported: map[string]bool{}}
			got, connect := b.connectionLimits(tt.in, testSource(), tt.protocol)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("limits (-want +got):\n%s", diff)
			}
			if connect != tt.connect || diagSummary(b.diags) != tt.diags {
				t.Errorf("connect %v [%s], want %v [%s]", connect, diagSummary(b.diags), tt.connect, tt.diags)
			}
		})
	}
}

// TestConnectionPoolOverrides: a subset's connectionPool replaces the
// rule's wholesale, a portLevelSettings entry replaces it for its port
// without inheriting.
func TestConnectionPoolOverrides(t *testing.T) {
	bundle := canaryBundle()
	pool := func(maxConns int32) *networkingv1.ConnectionPoolSettings {
		return &networkingv1.ConnectionPoolSettings{Tcp: &networkingv1.ConnectionPoolSettings_TCPSettings{MaxConnections: maxConns}}
	}
	dr := bundle.DestinationRules[0].Spec
	dr.TrafficPolicy = &networkingv1.TrafficPolicy{ConnectionPool: &networkingv1.ConnectionPoolSettings{
		Tcp:  &networkingv1.ConnectionPoolSettings_TCPSettings{MaxConnections: 100},
		Http: &networkingv1.ConnectionPoolSettings_HTTPSettings{Http1MaxPendingRequests: 50},
	}}
	dr.Subsets[1].TrafficPolicy = &networkingv1.TrafficPolicy{ConnectionPool: pool(5)}
	snap, diags := Build(bundle, Identity{})
	mustNoDiags(t, diags)
	v1 := snap.Cluster("outbound|80|v1|echoserver-service.default.svc.cluster.local")
	v2 := snap.Cluster("outbound|80|v2|echoserver-service.default.svc.cluster.local")
	if v1.Limits.MaxConnections != 100 || v1.Limits.MaxPendingRequests != 50 {
		t.Errorf("v1 limits = %+v, want the rule's", v1.Limits)
	}
	if v2.Limits.MaxConnections != 5 || v2.Limits.MaxPendingRequests != 0 {
		t.Errorf("v2 limits = %+v, want the subset's alone", v2.Limits)
	}

	dr.Subsets[1].TrafficPolicy = nil
	dr.TrafficPolicy.PortLevelSettings = []*networkingv1.TrafficPolicy_PortTrafficPolicy{{
		Port: &networkingv1.PortSelector{Number: 80}, ConnectionPool: pool(7),
	}}
	snap, _ = Build(bundle, Identity{})
	v1 = snap.Cluster("outbound|80|v1|echoserver-service.default.svc.cluster.local")
	if v1.Limits.MaxConnections != 7 || v1.Limits.MaxPendingRequests != 0 {
		t.Errorf("port-level limits = %+v, want the port's alone", v1.Limits)
	}
}
