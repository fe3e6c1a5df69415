package snapshot

import (
	"regexp"
	"time"
)

// RetryPolicy is a route's retry policy with Istio's defaults applied. A
// route without `retries` gets Istio's built-in policy (Default true).
type RetryPolicy struct {
	// Attempts is the number of retries (total tries = 1 + Attempts); 0
	// disables retries.
	Attempts uint32 `json:"attempts"`
	// PerTryTimeout bounds each try until response headers arrive; 0 means
	// only the route timeout applies.
	PerTryTimeout time.Duration `json:"perTryTimeout,omitempty"`
	// RetryOn holds Envoy retry_on tokens (5xx, gateway-error, reset,
	// connect-failure, envoy-ratelimited, retriable-4xx, refused-stream,
	// retriable-status-codes, retriable-headers, and the gRPC codes
	// cancelled, deadline-exceeded, internal, resource-exhausted,
	// unavailable), deduplicated and sorted.
	RetryOn []string `json:"retryOn"`
	// RetriableStatusCodes are the numeric codes from retryOn.
	RetriableStatusCodes []uint32 `json:"retriableStatusCodes,omitempty"`
	// RetryRemoteLocalities lets retries go to other priorities.
	RetryRemoteLocalities bool `json:"retryRemoteLocalities,omitempty"`
	// IgnorePreviousHosts makes retries avoid hosts already tried (Istio
	// default true; false under consistent hashing).
	IgnorePreviousHosts bool `json:"ignorePreviousHosts"`
	// BackoffBase is the base interval of the jittered exponential backoff
	// (Envoy default 25ms; the maximum is 10× the base).
	BackoffBase time.Duration `json:"backoffBase"`
	// Default marks Istio's built-in policy (no `retries` in the route).
	Default bool `json:"default,omitempty"`
}

// FaultPolicy injects delays and aborts into a share of requests.
type FaultPolicy struct {
	Delay *FaultDelay `json:"delay,omitempty"`
	Abort *FaultAbort `json:"abort,omitempty"`
}

// FaultDelay delays Percent of requests by Duration before forwarding.
type FaultDelay struct {
	Duration time.Duration `json:"duration"`
	// Percent is 0..100; Istio injects nothing when the percentage is unset.
	Percent float64 `json:"percent"`
}

// FaultAbort answers Percent of requests with an error without forwarding.
type FaultAbort struct {
	// HTTPStatus is the HTTP status to answer, or 0 when GRPCStatus is set.
	HTTPStatus uint32 `json:"httpStatus,omitempty"`
	// GRPCStatus is a gRPC status name (e.g. "UNAVAILABLE"), answered as a
	// trailers-only gRPC response.
	GRPCStatus string  `json:"grpcStatus,omitempty"`
	Percent    float64 `json:"percent"`
}

// Mirror copies Percent of requests to Cluster, fire and forget.
type Mirror struct {
	Cluster string  `json:"cluster"`
	Percent float64 `json:"percent"`
}

// Rewrite changes the request before it is forwarded.
type Rewrite struct {
	// URI replaces the matched prefix (or the whole path for exact and
	// regex matches), as Envoy's prefix_rewrite does.
	URI string `json:"uri,omitempty"`
	// URIRegex rewrites the path with a regular expression.
	URIRegex *RegexRewrite `json:"uriRegex,omitempty"`
	// Authority replaces the Host / :authority header.
	Authority string `json:"authority,omitempty"`
}

// RegexRewrite replaces every match of Match in the path with
// Replacement (Envoy's regex_rewrite; the pattern is not anchored).
// Replacement is in Go's regexp template syntax, ready for
// Compiled.ReplaceAllString: translate converts Istio's RE2 form, where
// \1 names a capture group, to ${1}, and escapes a literal $ as $$.
type RegexRewrite struct {
	Match       string         `json:"match"`
	Replacement string         `json:"replacement"`
	Compiled    *regexp.Regexp `json:"-"`
}

// HeaderOps are Istio's header manipulations for one direction.
type HeaderOps struct {
	// Set overwrites; Add appends; Remove deletes. Names are lower-case;
	// slices are sorted by name for determinism.
	Set    []Header `json:"set,omitempty"`
	Add    []Header `json:"add,omitempty"`
	Remove []string `json:"remove,omitempty"`
}

// Header is one header name and value.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Headers are the request and response header operations of a route or
// a destination.
type Headers struct {
	Request  *HeaderOps `json:"request,omitempty"`
	Response *HeaderOps `json:"response,omitempty"`
}

// CORSPolicy is a route's corsPolicy; preflights are answered at the
// gateway. An origin is allowed when one of AllowOrigins matches it; a
// matcher of Kind Present allows every origin (translate uses it for
// matchers that accept the literal "*", which Envoy treats as "any
// origin"). MaxAge is whole seconds.
type CORSPolicy struct {
	AllowOrigins     []StringMatch `json:"allowOrigins"`
	AllowMethods     []string      `json:"allowMethods,omitempty"`
	AllowHeaders     []string      `json:"allowHeaders,omitempty"`
	ExposeHeaders    []string      `json:"exposeHeaders,omitempty"`
	MaxAge           time.Duration `json:"maxAge,omitempty"`
	AllowCredentials bool          `json:"allowCredentials,omitempty"`
	// UnmatchedPreflights is FORWARD (default) or IGNORE.
	UnmatchedPreflights string `json:"unmatchedPreflights,omitempty"`
}

// ConnectionLimits are a cluster's connectionPool settings. Zero means
// unlimited (Istio sets Envoy's circuit breakers to their maximum), except
// where a field says otherwise.
type ConnectionLimits struct {
	MaxConnections           uint32 `json:"maxConnections,omitempty"`
	MaxPendingRequests       uint32 `json:"maxPendingRequests,omitempty"`
	MaxRequests              uint32 `json:"maxRequests,omitempty"`
	MaxRequestsPerConnection uint32 `json:"maxRequestsPerConnection,omitempty"`
	MaxRetries               uint32 `json:"maxRetries,omitempty"`
	MaxConcurrentStreams     uint32 `json:"maxConcurrentStreams,omitempty"`
	// IdleTimeout closes an upstream connection without active requests
	// after this long. translate fills Istio's default of 1h; 0 means no
	// idle timeout (tcp.idleTimeout: 0s).
	IdleTimeout           time.Duration `json:"idleTimeout,omitempty"`
	MaxConnectionDuration time.Duration `json:"maxConnectionDuration,omitempty"`
	// TCPKeepalive, when set, turns SO_KEEPALIVE on; its zero fields keep
	// the operating system's defaults.
	TCPKeepalive *TCPKeepalive `json:"tcpKeepalive,omitempty"`
}

// TCPKeepalive configures keep-alive probes on upstream connections.
type TCPKeepalive struct {
	Probes   uint32        `json:"probes,omitempty"`
	Time     time.Duration `json:"time,omitempty"`
	Interval time.Duration `json:"interval,omitempty"`
}
