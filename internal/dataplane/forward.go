package dataplane

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"

	"github.com/meshgate/meshgate/internal/dataplane/forwarded"
	"github.com/meshgate/meshgate/internal/dataplane/upstream"
	"github.com/meshgate/meshgate/internal/telemetry/accesslog"
)

// The reverse proxy (net/http/httputil) does what is subtle about
// relaying HTTP: hop-by-hop headers, trailers, upgrades, flushing. The
// gateway hooks into it at three points: rewrite prepares the outbound
// request, attemptTransport makes the attempts (retry.go), and
// modifyResponse or errorHandler finish the answer.

// rewrite prepares the outbound request. ReverseProxy has already removed
// hop-by-hop headers and the X-Forwarded-* set.
func rewrite(pr *httputil.ProxyRequest) {
	prepareOutbound(pr.In, pr.Out, exchangeFrom(pr.In.Context()))
}

// prepareOutbound prepares out, the outbound form of in, for x's
// attempt. out may be in itself (the HTTP/1.1 path edits the request in
// place): every field is read before it is written.
func prepareOutbound(in, out *http.Request, x *exchange) {
	out.URL.Scheme = "http"
	out.URL.Host = x.host.Address
	// Envoy keeps the client's authority unless a rewrite says otherwise.
	out.Host = in.Host
	// The service upstream mode names the service for the sidecar that
	// intercepts its address (meshgate.io/upstream: service).
	if h := x.cluster.Spec.HostRewrite; h != "" {
		out.Host = h
	}
	// X-Forwarded-For / -Proto, x-envoy-external-address and XFCC as
	// Envoy's connection manager decided them for this hop (trusted hops,
	// PROXY protocol, client certificate mode).
	// In place after the connection manager's decision (Prepare), the
	// headers already hold it.
	if in != out || forwarded.DecisionFrom(in.Context()) == nil {
		forwarded.Apply(in, out.Header)
	}
	// Without this, net/http would add its own User-Agent to requests that
	// carried none.
	if _, ok := in.Header["User-Agent"]; !ok {
		out.Header["User-Agent"] = nil
	}
	// Envoy finalises the request in this order: header operations
	// (destination, then route), then the authority and path rewrites.
	requestHeaders(out, x)
	rewriteRequest(out, in, x)
	// The gateway's span is the upstream request's parent.
	x.span.Inject(out.Header)
}

func joinComma(vs []string) string {
	if len(vs) == 1 {
		return vs[0]
	}
	out := vs[0]
	for _, v := range vs[1:] {
		out += ", " + v
	}
	return out
}

// attemptTransport is the reverse proxy's transport: the attempts of a
// request under its route's retry policy.
type attemptTransport struct{ s *Server }

func (t attemptTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.s.forward(req)
}

// modifyResponse applies the route's response policies to an upstream
// response before it is relayed.
func modifyResponse(resp *http.Response) error {
	decorate(resp.Header, exchangeFrom(resp.Request.Context()))
	return nil
}

// errorHandler answers a request that got no upstream response with
// Envoy's status codes and bodies, and records the response flag.
func errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	x := exchangeFrom(r.Context())
	var f *failure
	if !errors.As(err, &f) {
		// An error of the proxy itself, after the attempts.
		f = classify(err, r.Context(), false)
	}
	const before = "upstream connect error or disconnect/reset before headers. "
	reason := "reset reason: "
	if x.attempt > 1 {
		reason = "retried and the latest reset reason: "
	}
	switch f.kind {
	case downstreamGone:
		// The client went away; there is nobody to answer.
		x.rec.Flags |= accesslog.DownstreamConnectionTermination
	case routeTimeout, perTryTimeout:
		if f.kind == routeTimeout && x.clientDeadline {
			decorate(w.Header(), x)
			x.rec.Flags |= accesslog.UpstreamRequestTimeout
			writeGRPCStatus(w, grpcDeadlineExceeded, "upstream request timeout")
			return
		}
		localReply(w, x, http.StatusGatewayTimeout, accesslog.UpstreamRequestTimeout, "upstream request timeout")
	case overflow:
		w.Header().Set("X-Envoy-Overloaded", "true")
		localReply(w, x, http.StatusServiceUnavailable, accesslog.UpstreamOverflow, before+reason+"overflow")
	case connectFailure:
		msg := before + reason + "connection failure"
		if errors.Is(f.err, upstream.ErrUpstreamTLS) {
			// As Envoy names a failed upstream handshake, which is what
			// an operator needs to tell a TLS problem from a dead port.
			x.rec.UpstreamTransportFailureReason = transportFailure(f.err)
			msg += ", transport failure reason: " + x.rec.UpstreamTransportFailureReason
		}
		localReply(w, x, http.StatusServiceUnavailable, accesslog.UpstreamConnectionFailure, msg)
	case refusedStream:
		localReply(w, x, http.StatusServiceUnavailable, accesslog.UpstreamRemoteReset, before+reason+"remote refused stream reset")
	default:
		localReply(w, x, http.StatusServiceUnavailable, accesslog.UpstreamConnectionTermination, before+reason+"connection termination")
	}
}

// midStreamFlag is the flag of a request whose response broke off after
// its headers were sent.
func midStreamFlag(downstream context.Context, x *exchange) accesslog.Flags {
	switch {
	case downstream.Err() != nil:
		return accesslog.DownstreamConnectionTermination
	case x.ctx != nil && errors.Is(context.Cause(x.ctx), errRouteTimeout):
		return accesslog.UpstreamRequestTimeout
	}
	return accesslog.UpstreamConnectionTermination
}

// transportFailure is the reason of a failed upstream TLS handshake, without
// the dial wrapping around it.
func transportFailure(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		err = op.Err
	}
	return err.Error()
}
