package dataplane

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"syscall"
	"time"

	"github.com/meshgate/meshgate/internal/lb"
	"github.com/meshgate/meshgate/internal/telemetry/accesslog"
)

// defaultRetries is Istio's built-in retry count when a route sets no
// policy; the only failures it retries here are those where the request
// provably never reached an upstream (connect failures, refused streams),
// so retrying is always safe.
const defaultRetries = 2

// rewrite prepares the outbound request. ReverseProxy has already removed
// hop-by-hop headers and the X-Forwarded-* set.
func rewrite(pr *httputil.ProxyRequest) {
	x := exchangeFrom(pr.In.Context())
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = x.host.Address
	// Envoy keeps the client's authority unless a rewrite says otherwise.
	pr.Out.Host = pr.In.Host
	// Envoy at the edge appends the peer address to X-Forwarded-For and
	// sets X-Forwarded-Proto to the scheme the client used.
	if ip, _, err := net.SplitHostPort(pr.In.RemoteAddr); err == nil {
		if prior := pr.In.Header.Values("X-Forwarded-For"); len(prior) > 0 {
			pr.Out.Header.Set("X-Forwarded-For", joinComma(prior)+", "+ip)
		} else {
			pr.Out.Header.Set("X-Forwarded-For", ip)
		}
	}
	pr.Out.Header.Set("X-Forwarded-Proto", x.scheme)
	// Without this, net/http would add its own User-Agent to requests that
	// carried none.
	if _, ok := pr.In.Header["User-Agent"]; !ok {
		pr.Out.Header["User-Agent"] = nil
	}
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

// attemptTransport sends the request to the picked host and, when the
// connection could not be established, retries on other hosts of the same
// cluster, as Istio's default retry policy (connect-failure) does.
type attemptTransport struct {
	rand lb.Rand
}

func (t attemptTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	x := exchangeFrom(req.Context())
	start := time.Now()
	for {
		x.attempt++
		x.host.Begin()
		resp, err := x.cluster.Transport.RoundTrip(req)
		reportOutcome(x.cluster, x.host, req, resp, err)
		if err != nil || resp == nil {
			x.host.End()
		} else {
			resp.Body = &hostReleasingBody{ReadCloser: resp.Body, host: x.host}
			resp.Header.Set("X-Envoy-Upstream-Service-Time", strconv.FormatInt(time.Since(start).Milliseconds(), 10))
		}
		x.rec.UpstreamHost = x.host.Address
		if err == nil || !isConnectFailure(err) || x.attempt > defaultRetries || !replayable(req) {
			return resp, err
		}
		x.tried = append(x.tried, x.host)
		x.lbReq.Exclude = x.tried
		next := x.cluster.Pick(&x.lbReq)
		if next == nil {
			return resp, err
		}
		x.host = next
		req.URL.Host = next.Address
	}
}

// replayable reports whether the request can be sent again: it has no
// body, or the body was never read because the connection failed first.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.ContentLength == 0
}

// hostReleasingBody ends the host's active-request count when the
// response body is closed, so LEAST_REQUEST sees streaming responses as
// active until they finish.
type hostReleasingBody struct {
	io.ReadCloser
	host *lb.Host
	done bool
}

func (b *hostReleasingBody) Close() error {
	if !b.done {
		b.done = true
		b.host.End()
	}
	return b.ReadCloser.Close()
}

func isConnectFailure(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

func modifyResponse(*http.Response) error { return nil }

// errorHandler answers a failed upstream exchange with Envoy's status
// codes and bodies, and records the response flag.
func errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	x := exchangeFrom(r.Context())
	switch {
	case errors.Is(r.Context().Err(), context.Canceled):
		// The client went away; there is nobody to answer.
		x.rec.Flags |= accesslog.DownstreamConnectionTermination
		return
	case isTimeout(err):
		reply(w, x, http.StatusGatewayTimeout, accesslog.UpstreamRequestTimeout, "upstream request timeout")
	case isConnectFailure(err):
		reply(w, x, http.StatusServiceUnavailable, accesslog.UpstreamConnectionFailure,
			"upstream connect error or disconnect/reset before headers. reset reason: connection failure")
	default:
		reply(w, x, http.StatusServiceUnavailable, accesslog.UpstreamConnectionTermination,
			"upstream connect error or disconnect/reset before headers. reset reason: connection termination")
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
}
