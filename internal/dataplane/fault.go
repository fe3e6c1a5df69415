package dataplane

import (
	"net/http"

	"github.com/meshgate/meshgate/internal/lb"
	"github.com/meshgate/meshgate/internal/telemetry/accesslog"
)

// faultAbortBody is what Envoy's fault filter answers an aborted request
// with.
const faultAbortBody = "fault filter abort"

// injectFault applies the route's fault policy before the request goes
// further: first the delay (flag DI), then, independently drawn, the
// abort (flag FI). It returns false when the request has been answered
// (aborted) or its client left during the delay.
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request, x *exchange) bool {
	f := x.route.Fault
	if d := f.Delay; d != nil && d.Duration > 0 && chance(x.rand, d.Percent) {
		x.rec.Flags |= accesslog.DelayInjected
		if err := s.opts.Sleep(r.Context(), d.Duration); err != nil {
			x.rec.Flags |= accesslog.DownstreamConnectionTermination
			return false
		}
	}
	a := f.Abort
	if a == nil || !chance(x.rand, a.Percent) {
		return true
	}
	switch {
	case a.GRPCStatus != "":
		// A gRPC abort is a trailers-only gRPC response: HTTP 200 with the
		// status in the headers.
		x.rec.Flags |= accesslog.FaultInjected
		decorate(w.Header(), x)
		writeGRPCStatus(w, grpcCode(a.GRPCStatus), faultAbortBody)
	case a.HTTPStatus != 0:
		localReply(w, x, int(a.HTTPStatus), accesslog.FaultInjected, faultAbortBody)
	default:
		return true
	}
	return false
}

// chance draws true with probability percent/100, in millionths as Envoy
// draws fractional percentages.
func chance(rnd lb.Rand, percent float64) bool {
	switch {
	case percent <= 0:
		return false
	case percent >= 100:
		return true
	}
	return rnd.Uint64()%1_000_000 < uint64(percent*10_000+0.5)
}
