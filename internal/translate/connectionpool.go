package translate

import (
	"fmt"
	"time"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/snapshot"
	"google.golang.org/protobuf/types/known/durationpb"
	networkingv1 "istio.io/api/networking/v1"
)

// defaultIdleTimeout is the upstream idle timeout Istio documents for
// both tcp.idleTimeout and http.idleTimeout when neither is set.
const defaultIdleTimeout = time.Hour

// connectionLimits translates a cluster's effective connectionPool (the
// component clusterPolicy picked, so subset and portLevelSettings
// overrides already apply) into its limits and connect timeout, following
// Istio's applyConnectionPool:
//   - circuit breakers (maxConnections, http1MaxPendingRequests,
//     http2MaxRequests, maxRetries) only count when above 0; otherwise
//     Istio leaves Envoy's thresholds at their maximum, which 0 means here;
//   - http.idleTimeout, else tcp.idleTimeout, else 1h; tcp.idleTimeout 0s
//     turns the idle timeout off;
//   - maxConcurrentStreams only acts on HTTP/2 upstream connections.
//
// Values Istio's validation rejects are reported and left at the default,
// so one bad field does not take the whole DestinationRule away.
func (b *builder) connectionLimits(pool *networkingv1.ConnectionPoolSettings, src policySource, protocol snapshot.UpstreamProtocol) (snapshot.ConnectionLimits, time.Duration) {
	out := snapshot.ConnectionLimits{IdleTimeout: defaultIdleTimeout}
	connect := defaultConnectTimeout
	if pool == nil {
		return out, connect
	}
	tcp, http := pool.Tcp, pool.Http
	count := func(field string, v int32) uint32 {
		if v < 0 {
			b.report(&src.dr.Meta, diag.Warning, CodeConnectionPool, src.field+"."+field,
				fmt.Sprintf("%d is negative; the default (no limit) is used", v), "")
			return 0
		}
		return uint32(v)
	}
	duration := func(field string, d *durationpb.Duration) (time.Duration, bool) {
		if d == nil {
			return 0, false
		}
		if problem := durationProblem(d); problem != "" {
			b.report(&src.dr.Meta, diag.Warning, CodeConnectionPool, src.field+"."+field,
				fmt.Sprintf("%s %s; the default is used", field, problem), "use a duration of at least 1ms")
			return 0, false
		}
		return d.AsDuration(), true
	}

	if tcp != nil {
		out.MaxConnections = count("tcp.maxConnections", tcp.MaxConnections)
		if d, ok := duration("tcp.connectTimeout", tcp.ConnectTimeout); ok {
			connect = d
		}
		if d, ok := duration("tcp.maxConnectionDuration", tcp.MaxConnectionDuration); ok {
			out.MaxConnectionDuration = d
		}
		if ka := tcp.TcpKeepalive; ka != nil {
			out.TCPKeepalive = &snapshot.TCPKeepalive{Probes: ka.Probes}
			if d, ok := duration("tcp.tcpKeepalive.time", ka.Time); ok {
				out.TCPKeepalive.Time = d
			}
			if d, ok := duration("tcp.tcpKeepalive.interval", ka.Interval); ok {
				out.TCPKeepalive.Interval = d
			}
		}
		if d := tcp.IdleTimeout; d != nil {
			// The API: "If set to 0s, the timeout will be disabled."
			if d.CheckValid() == nil && d.AsDuration() == 0 {
				out.IdleTimeout = 0
			} else if v, ok := duration("tcp.idleTimeout", d); ok {
				out.IdleTimeout = v
			}
		}
	}
	if http != nil {
		out.MaxPendingRequests = count("http.http1MaxPendingRequests", http.Http1MaxPendingRequests)
		out.MaxRequests = count("http.http2MaxRequests", http.Http2MaxRequests)
		out.MaxRequestsPerConnection = count("http.maxRequestsPerConnection", http.MaxRequestsPerConnection)
		out.MaxRetries = count("http.maxRetries", http.MaxRetries)
		if d, ok := duration("http.idleTimeout", http.IdleTimeout); ok {
			out.IdleTimeout = d
		}
		if streams := count("http.maxConcurrentStreams", http.MaxConcurrentStreams); streams > 0 {
			if protocol == snapshot.UpstreamHTTP1 {
				b.report(&src.dr.Meta, diag.Warning, CodeConnectionPool, src.field+".http.maxConcurrentStreams",
					"maxConcurrentStreams only limits HTTP/2 connections, and this cluster talks HTTP/1.1 upstream; it is ignored",
					"set h2UpgradePolicy: UPGRADE or use an http2 or grpc service port")
			} else {
				out.MaxConcurrentStreams = streams
			}
		}
		if http.UseClientProtocol && http.H2UpgradePolicy == networkingv1.ConnectionPoolSettings_HTTPSettings_UPGRADE {
			b.report(&src.dr.Meta, diag.Warning, CodeConnectionPool, src.field+".http.h2UpgradePolicy",
				"h2UpgradePolicy UPGRADE has no effect with useClientProtocol, which keeps the client's protocol (Istio's validation rejects both)",
				"drop one of them")
		}
		if http.Http2KeepAlive != nil {
			b.report(&src.dr.Meta, diag.Warning, CodeConnectionPool, src.field+".http.http2KeepAlive",
				"http2KeepAlive is not supported yet; upstream HTTP/2 connections send no keep-alive PINGs", "")
		}
	}
	return out, connect
}
