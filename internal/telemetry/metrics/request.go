package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/meshgate/meshgate/internal/telemetry/accesslog"
	"github.com/prometheus/client_golang/prometheus"
)

// childKey is what varies per request besides the destination.
type childKey struct {
	status     int
	flags      accesslog.Flags
	grpc       bool
	grpcStatus int // -1 without one
}

// child holds the resolved metric children of one label set.
type child struct {
	requests      prometheus.Counter
	duration      prometheus.Observer
	requestBytes  prometheus.Observer
	responseBytes prometheus.Observer
}

// ObserveHTTP records one finished request: rec is its access-log record
// (cluster, endpoint, status, flags, sizes, duration), req the request
// (its Content-Type says whether it was gRPC) and respHeader the response
// headers as sent, trailers included (for grpc-status). Call it once per
// request, after the response is complete.
func (r *Recorder) ObserveHTTP(rec *accesslog.Record, req *http.Request, respHeader http.Header) {
	if r == nil || rec == nil {
		return
	}
	k := childKey{status: rec.Status, flags: rec.Flags, grpcStatus: -1}
	if req != nil {
		k.grpc = isGRPC(req.Header)
	}
	if k.grpc {
		k.grpcStatus = grpcStatus(respHeader)
	}
	d := r.dests.Load().lookup(rec.UpstreamCluster, rec.UpstreamHost)
	c := (*d.children.Load())[k]
	if c == nil {
		c = r.resolve(d, k)
	}
	c.requests.Inc()
	c.duration.Observe(float64(rec.Duration) / float64(time.Millisecond))
	c.requestBytes.Observe(float64(rec.BytesReceived))
	c.responseBytes.Observe(float64(rec.BytesSent))
}

// resolve builds the children of a new label combination: the slow path,
// taken once per destination and combination.
func (r *Recorder) resolve(d *dest, k childKey) *child {
	d.mu.Lock()
	defer d.mu.Unlock()
	old := *d.children.Load()
	if c := old[k]; c != nil {
		return c
	}
	labels := d.labels
	labels[lRequestProtocol] = "http"
	labels[lGRPCResponseStatus] = ""
	if k.grpc {
		labels[lRequestProtocol] = "grpc"
		if k.grpcStatus >= 0 {
			labels[lGRPCResponseStatus] = strconv.Itoa(k.grpcStatus)
		}
	}
	labels[lResponseFlags] = k.flags.String()
	// A client proxy cannot tell the upstream's policy, so Istio reports
	// unknown for reporter="source".
	labels[lConnectionSecurityPolicy] = unknown
	labels[lResponseCode] = strconv.Itoa(k.status)
	vals := labels[:]
	c := &child{
		requests:      r.requests.WithLabelValues(vals...),
		duration:      r.duration.WithLabelValues(vals...),
		requestBytes:  r.requestBytes.WithLabelValues(vals...),
		responseBytes: r.responseBytes.WithLabelValues(vals...),
	}
	next := make(map[childKey]*child, len(old)+1)
	for kk, cc := range old {
		next[kk] = cc
	}
	next[k] = c
	d.children.Store(&next)
	return c
}

// isGRPC is Envoy's Grpc::Common::isGrpcRequestHeaders: a Content-Type of
// application/grpc, optionally with a "+codec" or ";params" suffix.
func isGRPC(h http.Header) bool {
	v := h["Content-Type"]
	if len(v) == 0 {
		return false
	}
	ct := v[0]
	const p = "application/grpc"
	if !strings.HasPrefix(ct, p) {
		return false
	}
	return len(ct) == len(p) || ct[len(p)] == '+' || ct[len(p)] == ';'
}

// grpcStatus reads grpc-status from the response trailers or, for a
// trailers-only response, its headers. net/http's reverse proxy keeps
// trailers the upstream did not announce under the "Trailer:" prefix.
func grpcStatus(h http.Header) int {
	for _, k := range [...]string{"Grpc-Status", http.TrailerPrefix + "Grpc-Status"} {
		if v := h[k]; len(v) > 0 {
			if n, err := strconv.Atoi(v[0]); err == nil && n >= 0 {
				return n
			}
		}
	}
	return -1
}
