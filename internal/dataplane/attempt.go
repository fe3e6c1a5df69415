package dataplane

import (
	"context"
	"errors"
	"github.com/meshgate/meshgate/internal/telemetry/metrics"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/meshgate/meshgate/internal/dataplane/upstream"
	"github.com/meshgate/meshgate/internal/lb"
	"github.com/meshgate/meshgate/internal/snapshot"
)

// failureKind says why an attempt, or the whole request, has no response.
type failureKind uint8

const (
	// reset: the connection failed after it was established (closed,
	// reset, or a protocol error) before response headers.
	reset failureKind = iota
	connectFailure
	refusedStream
	// perTryTimeout: retries.perTryTimeout ran out before headers.
	perTryTimeout
	// routeTimeout: the route timeout ran out; never retried.
	routeTimeout
	// overflow: a circuit breaker refused the attempt; never retried.
	overflow
	// downstreamGone: the client went away.
	downstreamGone
)

// failure is the error an attempt without a response ends with.
type failure struct {
	kind failureKind
	err  error
}

func (f *failure) Error() string {
	if f.err == nil {
		return "upstream failure"
	}
	return f.err.Error()
}

func (f *failure) Unwrap() error { return f.err }

// Causes of context cancellation the gateway itself decides.
var (
	errRouteTimeout  = errors.New("route timeout")
	errPerTryTimeout = errors.New("per-try timeout")
	errDiscarded     = errors.New("response discarded for a retry")
)

// requestEnded is the failure of a request whose context is done: the
// route timeout ran out, or the client went away.
func requestEnded(ctx context.Context) *failure {
	if errors.Is(context.Cause(ctx), errRouteTimeout) {
		return &failure{kind: routeTimeout, err: errRouteTimeout}
	}
	return &failure{kind: downstreamGone, err: ctx.Err()}
}

// Draining a discarded response lets its connection be reused; it is
// bounded so that a slow or endless body cannot hold up the retry.
const (
	maxDrainBytes = 64 << 10
	maxDrainWait  = 100 * time.Millisecond
)

// attempt sends the request once, to x.host, and returns the response
// or why there is none. Everything the attempt holds (its circuit-breaker
// places, the host's active count, a retry token) is given back when the
// response body is closed, or before attempt returns when it fails.
func (s *Server) attempt(x *exchange, out *http.Request) (*http.Response, *failure) {
	c := x.cluster
	ctx := out.Context()
	http1 := c.Spec.UpstreamProtocol != snapshot.UpstreamH2C
	retryToken := x.retrying
	x.retrying = false
	admitted, err := c.Admit(ctx, http1)
	if err != nil {
		if retryToken {
			c.EndRetry()
		}
		if errors.Is(err, upstream.ErrOverflow) {
			s.opts.Metrics.Overflow(c.Spec.Name, metrics.LimitRequests)
			return nil, &failure{kind: overflow, err: err}
		}
		return nil, requestEnded(ctx)
	}
	x.attempt++
	actx, cancel := context.WithCancelCause(ctx)
	var req *http.Request
	if x.attempt == 1 {
		req = out.WithContext(actx)
	} else {
		// A clone: the transport may still be reading the earlier
		// attempt's headers and URL.
		req = out.Clone(actx)
		req.URL.Host = x.host.Address
	}
	// Istio asks Envoy to tell upstreams which attempt they see.
	req.Header["X-Envoy-Attempt-Count"] = smallIntValue(x.attempt)
	if x.body != nil {
		req.Body = x.body.reader()
		req.GetBody = x.body.getBody
	}
	connDone := noop
	if http1 {
		req, connDone = c.TrackConn(req)
	}
	var timer *time.Timer
	if d := x.plan.retry.perTry; d > 0 {
		timer = time.AfterFunc(d, func() { cancel(errPerTryTimeout) })
	}
	host := x.host
	// ab holds what the attempt must give back; it becomes the response
	// body, so one allocation serves both.
	// The first attempt's lives in the exchange, which nothing reuses.
	var ab *attemptBody
	if x.attempt == 1 {
		ab = &x.firstAttempt
	} else {
		ab = new(attemptBody)
	}
	*ab = attemptBody{host: host, connDone: connDone, admitted: admitted, cluster: c, retryToken: retryToken, cancel: cancel}

	host.Begin()
	x.rec.UpstreamHost = host.Address
	start := time.Now()
	resp, err := c.Transport.RoundTrip(req)
	timedOut := timer != nil && !timer.Stop()
	if err == nil && timedOut {
		// Headers and the per-try timeout arrived together: the timeout
		// has already cancelled the body, so the response is unusable.
		resp.Body.Close()
		resp, err = nil, errPerTryTimeout
	}
	if err != nil {
		f := classify(err, ctx, timedOut)
		reportOutcome(c, host, out, nil, err)
		ab.release()
		return nil, f
	}
	reportOutcome(c, host, out, resp, nil)
	x.rec.UpstreamServiceTime = time.Since(start)
	resp.Header["X-Envoy-Upstream-Service-Time"] = smallIntValue(int(x.rec.UpstreamServiceTime.Milliseconds()))
	ab.ReadCloser = resp.Body
	if rw, ok := resp.Body.(io.ReadWriteCloser); ok && resp.StatusCode == http.StatusSwitchingProtocols {
		// The reverse proxy needs a writable body to relay an upgrade.
		resp.Body = &attemptUpgradeBody{attemptBody: ab, w: rw}
	} else {
		resp.Body = ab
	}
	return resp, nil
}

func noop() {}

// smallIntValues are header values for small counts and durations, built
// once: the request path sets them on every request.
var smallIntValues = func() [][]string {
	v := make([][]string, 256)
	for i := range v {
		// Full slices (len == cap): an append copies, never shares.
		v[i] = []string{strconv.Itoa(i)}[:1:1]
	}
	return v
}()

// smallIntValue returns the header value of n.
func smallIntValue(n int) []string {
	if n >= 0 && n < len(smallIntValues) {
		return smallIntValues[n]
	}
	return []string{strconv.Itoa(n)}
}

// deadlinePassed reports whether ctx has a deadline that is already past.
func deadlinePassed(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// classify names the failure of an attempt that returned err.
func classify(err error, reqCtx context.Context, perTryExpired bool) *failure {
	switch {
	case reqCtx.Err() != nil:
		return requestEnded(reqCtx)
	case deadlinePassed(reqCtx):
		// The route deadline passed while the transport was already
		// failing for its own reason (the upstream reset the stream as its
		// deadline expired too); the timeout is the cause that counts.
		return &failure{kind: routeTimeout, err: errRouteTimeout}
	case perTryExpired:
		return &failure{kind: perTryTimeout, err: errPerTryTimeout}
	case isConnectFailure(err):
		return &failure{kind: connectFailure, err: err}
	case isRefusedStream(err):
		return &failure{kind: refusedStream, err: err}
	}
	return &failure{kind: reset, err: err}
}

func isConnectFailure(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// isRefusedStream recognises an HTTP/2 stream the upstream refused
// (REFUSED_STREAM): net/http keeps its HTTP/2 error types unexported.
func isRefusedStream(err error) bool {
	return strings.Contains(err.Error(), "REFUSED_STREAM")
}

// attemptBody gives back what the attempt holds when the response body
// is closed, so LEAST_REQUEST and the circuit breakers see a streaming
// response as active until it ends.
type attemptBody struct {
	io.ReadCloser
	host       *lb.Host
	connDone   func()
	admitted   func()
	cluster    *upstream.Cluster
	retryToken bool
	cancel     context.CancelCauseFunc
	released   atomic.Bool
}

// release gives back what the attempt holds, once.
func (b *attemptBody) release() {
	if b.released.Swap(true) {
		return
	}
	b.host.End()
	b.connDone()
	b.admitted()
	if b.retryToken {
		b.cluster.EndRetry()
	}
	b.cancel(nil)
}

func (b *attemptBody) Close() error {
	err := b.ReadCloser.Close()
	b.release()
	return err
}

// WriteTo lets io.Copy reach the body's own WriteTo (the h1 client's
// splices a large body straight between sockets).
func (b *attemptBody) WriteTo(w io.Writer) (int64, error) {
	if wt, ok := b.ReadCloser.(io.WriterTo); ok {
		return wt.WriteTo(w)
	}
	return io.Copy(w, struct{ io.Reader }{b.ReadCloser})
}

// attemptUpgradeBody is an attemptBody for a 101 response, whose body is
// the upgraded connection.
type attemptUpgradeBody struct {
	*attemptBody
	w io.Writer
}

func (b *attemptUpgradeBody) Write(p []byte) (int, error) { return b.w.Write(p) }

// discard finishes a response that a retry replaces: the body is drained
// (briefly, so the connection can be reused) and closed.
func discard(resp *http.Response) {
	ab, ok := resp.Body.(*attemptBody)
	if !ok {
		resp.Body.Close()
		return
	}
	t := time.AfterFunc(maxDrainWait, func() { ab.cancel(errDiscarded) })
	_, _ = io.CopyN(io.Discard, ab.ReadCloser, maxDrainBytes)
	t.Stop()
	ab.Close()
}
