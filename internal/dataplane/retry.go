package dataplane

import (
	"github.com/meshgate/meshgate/internal/telemetry/metrics"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/meshgate/meshgate/internal/lb"
	"github.com/meshgate/meshgate/internal/snapshot"
	"github.com/meshgate/meshgate/internal/telemetry/accesslog"
)

// defaultRetries is the retry count of Istio's built-in policy, which
// translate gives every route without `retries`.
const defaultRetries = 2

// defaultBackoffBase is Envoy's base retry interval; the cap is ten times
// the base.
const defaultBackoffBase = 25 * time.Millisecond

// retryOn is a set of Envoy retry_on conditions.
type retryOn uint32

const (
	on5xx retryOn = 1 << iota
	onGatewayError
	onReset
	onConnectFailure
	onEnvoyRateLimited
	onRetriable4xx
	onRefusedStream
	onRetriableStatusCodes
	onRetriableHeaders
	onGRPCCancelled
	onGRPCDeadlineExceeded
	onGRPCInternal
	onGRPCResourceExhausted
	onGRPCUnavailable
	onResetBeforeRequest
)

// retryTokens maps Envoy's retry_on and x-envoy-retry-grpc-on vocabulary,
// which Istio's retryOn passes through.
var retryTokens = map[string]retryOn{
	"5xx":                    on5xx,
	"gateway-error":          onGatewayError,
	"reset":                  onReset,
	"reset-before-request":   onResetBeforeRequest,
	"connect-failure":        onConnectFailure,
	"envoy-ratelimited":      onEnvoyRateLimited,
	"retriable-4xx":          onRetriable4xx,
	"refused-stream":         onRefusedStream,
	"retriable-status-codes": onRetriableStatusCodes,
	"retriable-headers":      onRetriableHeaders,
	"cancelled":              onGRPCCancelled,
	"deadline-exceeded":      onGRPCDeadlineExceeded,
	"internal":               onGRPCInternal,
	"resource-exhausted":     onGRPCResourceExhausted,
	"unavailable":            onGRPCUnavailable,
}

// retryPolicy is a route's RetryPolicy prepared for the request path. The
// zero value makes no retries.
type retryPolicy struct {
	retries    int
	perTry     time.Duration
	on         retryOn
	codes      []int
	remote     bool
	avoidTried bool
	base       time.Duration
}

func newRetryPolicy(p *snapshot.RetryPolicy) retryPolicy {
	if p == nil {
		return retryPolicy{}
	}
	rp := retryPolicy{
		retries:    int(p.Attempts),
		perTry:     p.PerTryTimeout,
		remote:     p.RetryRemoteLocalities,
		avoidTried: p.IgnorePreviousHosts,
		base:       p.BackoffBase,
	}
	if rp.base <= 0 {
		rp.base = defaultBackoffBase
	}
	for _, t := range p.RetryOn {
		t = strings.TrimSpace(t)
		if on, ok := retryTokens[t]; ok {
			rp.on |= on
		} else if code, err := strconv.Atoi(t); err == nil {
			// Istio turns numeric retryOn entries into retriable status
			// codes; accept them here too.
			rp.codes = append(rp.codes, code)
			rp.on |= onRetriableStatusCodes
		}
	}
	for _, c := range p.RetriableStatusCodes {
		rp.codes = append(rp.codes, int(c))
	}
	return rp
}

// retriesFailure reports whether an attempt that ended without a
// response is retried. A route timeout, an overflow and a client that
// went away never are. A per-try timeout counts as a reset, as Envoy
// counts it.
func (p *retryPolicy) retriesFailure(k failureKind) bool {
	anyReset := p.on&(on5xx|onGatewayError|onReset) != 0
	// reset-before-request retries a reset before any byte of the request
	// went upstream; the failures known to happen that early are a
	// connection that never opened and a refused stream.
	early := p.on&onResetBeforeRequest != 0
	switch k {
	case connectFailure:
		return anyReset || early || p.on&onConnectFailure != 0
	case refusedStream:
		return anyReset || early || p.on&onRefusedStream != 0
	case reset, perTryTimeout:
		return anyReset
	}
	return false
}

// retriesResponse reports whether a response is retried. Only response
// headers count: a gRPC status is seen when the upstream answered
// trailers-only (the status in the headers), as in Envoy.
func (p *retryPolicy) retriesResponse(resp *http.Response) bool {
	if p.on == 0 {
		return false
	}
	// A response from an upstream Envoy's rate limiter is retried under
	// envoy-ratelimited only, whatever its status.
	if resp.Header.Get("X-Envoy-Ratelimited") != "" {
		return p.on&onEnvoyRateLimited != 0
	}
	code := resp.StatusCode
	switch {
	case p.on&on5xx != 0 && code >= 500 && code <= 599:
		return true
	case p.on&onGatewayError != 0 && code >= 502 && code <= 504:
		return true
	case p.on&onRetriable4xx != 0 && code == http.StatusConflict:
		return true
	}
	if p.on&onRetriableStatusCodes != 0 {
		for _, c := range p.codes {
			if c == code {
				return true
			}
		}
	}
	// retriable-headers has nothing to match: Istio offers no field for
	// the header list, and the gateway does not trust a client's
	// x-envoy-retriable-header-names.
	if p.on&(onGRPCCancelled|onGRPCDeadlineExceeded|onGRPCInternal|onGRPCResourceExhausted|onGRPCUnavailable) != 0 {
		if v := resp.Header.Get("Grpc-Status"); v != "" {
			switch v {
			case "1":
				return p.on&onGRPCCancelled != 0
			case "4":
				return p.on&onGRPCDeadlineExceeded != 0
			case "8":
				return p.on&onGRPCResourceExhausted != 0
			case "13":
				return p.on&onGRPCInternal != 0
			case "14":
				return p.on&onGRPCUnavailable != 0
			}
		}
	}
	return false
}

// backoff is the wait before retry n (1 for the first retry): fully
// jittered exponential, uniform in [0, (2^n − 1)·base), and never more
// than ten times base.
func backoff(n int, base time.Duration, rnd lb.Rand) time.Duration {
	if base <= 0 {
		base = defaultBackoffBase
	}
	limit := 10 * base
	// Past 2^10 − 1 the ceiling is far above the cap anyway.
	span := time.Duration(uint64(1)<<min(max(n, 1), 10)-1) * base
	d := time.Duration(rnd.Uint64() % uint64(span))
	return min(d, limit)
}

// forward sends the request upstream under the route's retry policy. It
// is the transport of the reverse proxy, so it returns the response to
// relay, or the failure that the error handler turns into a local reply.
func (s *Server) forward(out *http.Request) (*http.Response, error) {
	x := exchangeFrom(out.Context())
	p := &x.plan.retry
	s.startMirrors(x, out)
	for {
		resp, fail := s.attempt(x, out)
		var retry bool
		if fail != nil {
			retry = p.retriesFailure(fail.kind)
		} else {
			retry = p.retriesResponse(resp)
		}
		switch {
		case !retry:
		case x.attempt > p.retries:
			x.rec.Flags |= accesslog.UpstreamRetryLimitExceeded
			retry = false
		case x.body != nil && !x.body.replayable():
			// The body went past the buffer limit: it cannot be sent again.
			retry = false
		case !x.cluster.BeginRetry():
			// Envoy returns the last attempt's outcome when max_retries
			// is reached, and flags the request UO.
			x.rec.Flags |= accesslog.UpstreamOverflow
			s.opts.Metrics.Overflow(x.cluster.Spec.Name, metrics.LimitRetries)
			retry = false
		}
		if !retry {
			if fail != nil {
				return nil, fail
			}
			return resp, nil
		}
		if resp != nil {
			discard(resp)
		}
		s.opts.Metrics.Retry(x.cluster.Spec.Name)
		if err := s.opts.Sleep(out.Context(), backoff(x.attempt, p.base, s.opts.Rand)); err != nil {
			x.cluster.EndRetry()
			return nil, requestEnded(out.Context())
		}
		x.retrying = true
		x.tried = append(x.tried, x.host)
		if p.avoidTried {
			x.lbReq.Exclude = x.tried
		}
		if h := x.cluster.PickRetry(&x.lbReq, p.remote, x.tried); h != nil {
			x.host = h
		}
	}
}
