package dataplane

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"

	"github.com/meshgate/meshgate/internal/dataplane/grpcweb"
	"github.com/meshgate/meshgate/internal/dataplane/upstream"
	"github.com/meshgate/meshgate/internal/lb"
	"github.com/meshgate/meshgate/internal/snapshot"
	"github.com/meshgate/meshgate/internal/telemetry/accesslog"
	"github.com/meshgate/meshgate/internal/telemetry/tracing"
)

// exchange is the per-request record shared by the steps of the request
// path: it is how the forwarder learns its target and policies and how
// the access log learns the outcome.
type exchange struct {
	rec   accesslog.Record
	state *state
	// listener is the Gateway port the request arrived on.
	listener uint32
	route    *snapshot.Route
	plan     *routePlan
	// dest is the weighted destination chosen; nil before the choice and
	// for routes that answer locally.
	dest    *snapshot.WeightedCluster
	cluster *upstream.Cluster
	host    *lb.Host
	// tried lists hosts already attempted, so a retry picks another.
	tried   []*lb.Host
	lbReq   lb.Request
	rand    lb.Rand
	scheme  string
	attempt int
	// retrying is set while the next attempt is a retry that holds a
	// place under the cluster's MaxRetries.
	retrying bool
	// body is the request body shared by the attempts; nil without one.
	body *requestBody
	// grpc marks a gRPC request: local replies become gRPC statuses.
	grpc bool
	// grpcWeb marks a gRPC request converted from gRPC-Web: its local
	// replies stay plain HTTP, which the gRPC-Web bridge turns into a
	// status with the HTTP code kept, as Envoy does.
	grpcWeb bool
	// clientDeadline marks a gRPC request whose deadline came from its
	// own grpc-timeout rather than from the route timeout.
	clientDeadline bool
	// origin is the request's Origin when the route's CORS policy allows
	// it; responses then carry the CORS headers.
	origin string
	// ctx is the context of the forwarded request (route timeout included).
	ctx context.Context
	// w is the response writer while the HTTP/1.1 path relays the
	// request (for interim responses); nil otherwise.
	w http.ResponseWriter
	// received counts request body bytes read from the client.
	received atomic.Int64
	// span is the gateway's span of the request; the upstream request
	// carries its context.
	span tracing.Span
	// rw wraps the server's response writer; it lives here so that one
	// allocation per request serves both.
	rw recordingWriter
	// requestID holds the X-Request-Id the gateway generated, for the same
	// reason: the header value points into it.
	requestID requestIDValue
	// xctx is the request context carrying the exchange (see
	// exchangeCtx), outURL the outbound request's URL, firstAttempt what
	// the first attempt holds: kept here for the same reason.
	xctx         exchangeCtx
	outURL       url.URL
	firstAttempt attemptBody
}

type exchangeKey struct{}

func exchangeFrom(ctx context.Context) *exchange {
	x, _ := ctx.Value(exchangeKey{}).(*exchange)
	return x
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, address string) {
	x := &exchange{rand: s.opts.Rand}
	x.rec.Start = now()
	x.rec.Method = r.Method
	// The request target as received (Envoy logs the path before any
	// rewrite); RequestURI is empty only for requests not read from a
	// connection.
	x.rec.Path = r.RequestURI
	if x.rec.Path == "" {
		x.rec.Path = r.URL.RequestURI()
	}
	x.rec.Protocol = r.Proto
	x.rec.Authority = r.Host
	x.rec.DownstreamRemoteAddress = r.RemoteAddr
	x.rec.UserAgent = r.UserAgent()
	x.rec.DownstreamLocalAddress, _ = r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	x.scheme = "http"
	if r.TLS != nil {
		x.scheme = "https"
		x.rec.RequestedServerName = r.TLS.ServerName
	}
	x.grpc = isGRPC(r)
	x.grpcWeb = grpcweb.Translated(r)
	x.requestID.ensure(r)
	x.rec.RequestID = r.Header.Get("X-Request-Id")
	x.span = s.opts.Tracer.Start(r)
	x.rec.XForwardedFor = r.Header.Get("X-Forwarded-For")

	rw := &x.rw
	rw.ResponseWriter = w
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &countingBody{ReadCloser: r.Body, n: &x.received}
	}
	finish := func() {
		x.rec.Status = rw.status
		if x.rec.Status == 0 && x.rec.Flags&accesslog.DownstreamConnectionTermination == 0 {
			x.rec.Status = http.StatusOK
		}
		x.rec.BytesSent = rw.bytes
		x.rec.BytesReceived = x.received.Load()
		x.rec.UpstreamAttempts = x.attempt
		x.rec.Duration = now().Sub(x.rec.Start)
		s.opts.AccessLog.Log(&x.rec)
		s.opts.Metrics.ObserveHTTP(&x.rec, r, rw.Header())
		s.opts.Live.Observe(&x.rec)
		if x.span.Valid() {
			var service string
			var port uint32
			if x.cluster != nil {
				service, port = x.cluster.Spec.Service, x.cluster.Spec.Port
			}
			x.span.End(&x.rec, x.scheme, service, port)
		}
	}
	defer func() {
		// The reverse proxy aborts the response with a panic when the
		// upstream fails after headers were sent (the connection must be
		// cut so the client sees the truncation). Log the request, then
		// let the server cut it.
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				x.rec.Flags |= midStreamFlag(r.Context(), x)
				finish()
			}
			panic(p)
		}
	}()
	s.route(rw, r, address, x)
	finish()
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, address string, x *exchange) {
	st := s.state.Load()
	if st == nil {
		reply(w, x, http.StatusNotFound, accesslog.NoRoute, "")
		return
	}
	ls := st.listeners[address]
	if ls == nil {
		reply(w, x, http.StatusNotFound, accesslog.NoRoute, "")
		return
	}
	_, rt := ls.table.Route(r)
	if rt == nil {
		reply(w, x, http.StatusNotFound, accesslog.NoRoute, "")
		return
	}
	x.state, x.listener = st, ls.spec.Port
	x.route, x.plan = rt, st.plan(rt)
	x.rec.RouteName = rt.Name

	// Envoy's filter order: CORS, then fault injection, then the router.
	if rt.CORS != nil && s.handleCORS(w, r, x) {
		return
	}
	if rt.Fault != nil && !s.injectFault(w, r, x) {
		return
	}
	switch {
	case rt.DirectResponse != nil:
		writeDirect(w, x, rt.DirectResponse)
		return
	case rt.Redirect != nil:
		writeRedirect(w, r, x, rt.Redirect)
		return
	}

	if len(rt.Destinations) == 0 {
		localReply(w, x, http.StatusServiceUnavailable, accesslog.NoClusterFound, "")
		return
	}
	x.dest = &rt.Destinations[pickWeighted(rt.Destinations, x.rand)]
	x.rec.UpstreamCluster = x.dest.Cluster
	c := st.upstreams.Cluster(x.dest.Cluster)
	if c == nil {
		localReply(w, x, http.StatusServiceUnavailable, accesslog.NoClusterFound, "")
		return
	}
	x.cluster = c
	x.lbReq = lb.Request{}
	if h := c.Spec.LB.Hash; h != nil {
		x.lbReq.Hash, x.lbReq.HasHash = requestHash(w, r, h)
	}
	host := c.Pick(&x.lbReq)
	if host == nil {
		localReply(w, x, http.StatusServiceUnavailable, accesslog.NoHealthyUpstream, "no healthy upstream")
		return
	}
	x.host = host
	if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		x.body = newRequestBody(r.Body, s.opts.RetryBufferLimit)
	}

	x.xctx = exchangeCtx{Context: r.Context(), x: x}
	var ctx context.Context = &x.xctx
	if d := requestTimeout(rt, r, x.grpc); d > 0 {
		// A deadline the client set itself expires at the client at the
		// same moment; answering it as DEADLINE_EXCEEDED keeps the
		// client's view consistent whichever timer fires first. A
		// gRPC-Web client gets Envoy's plain 504 instead, which the
		// bridge turns into UNAVAILABLE (see reply).
		x.clientDeadline = x.grpc && !x.grpcWeb && d != rt.Timeout
		// The route timeout covers every attempt and the backoff between
		// them, until the response is complete.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, d, errRouteTimeout)
		defer cancel()
	}
	x.ctx = ctx
	if usesH1Path(c.Transport, r) {
		s.forwardH1(w, r, ctx, x)
		return
	}
	s.proxy.ServeHTTP(w, r.WithContext(ctx))
}

// pickWeighted chooses a destination index with probability
// weight/sum(weights).
func pickWeighted(ds []snapshot.WeightedCluster, rnd lb.Rand) int {
	if len(ds) == 1 {
		return 0
	}
	var total uint64
	for _, d := range ds {
		total += uint64(d.Weight)
	}
	if total == 0 {
		return 0
	}
	n := rnd.Uint64() % total
	for i, d := range ds {
		if n < uint64(d.Weight) {
			return i
		}
		n -= uint64(d.Weight)
	}
	return len(ds) - 1
}

// reply answers locally, as Envoy does for requests it cannot route. A
// gRPC client gets the gRPC form: HTTP 200 with the status in grpc-status.
// A gRPC-Web client gets the plain reply, which the gRPC-Web bridge turns
// into its own form.
func reply(w http.ResponseWriter, x *exchange, status int, flag accesslog.Flags, body string) {
	x.rec.Flags |= flag
	if x.grpc && !x.grpcWeb {
		writeGRPCStatus(w, grpcStatusFromHTTP(status), body)
		return
	}
	h := w.Header()
	if body != "" {
		h.Set("Content-Type", "text/plain")
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(status)
	if body != "" {
		_, _ = w.Write([]byte(body))
	}
}

// localReply is a reply on behalf of a route: the route's (and chosen
// destination's) response headers and CORS headers apply to it too.
func localReply(w http.ResponseWriter, x *exchange, status int, flag accesslog.Flags, body string) {
	decorate(w.Header(), x)
	reply(w, x, status, flag, body)
}

func writeDirect(w http.ResponseWriter, x *exchange, d *snapshot.DirectResponse) {
	h := w.Header()
	decorate(h, x)
	if len(d.Body) > 0 {
		h.Set("Content-Length", strconv.Itoa(len(d.Body)))
		if h.Get("Content-Type") == "" {
			h.Set("Content-Type", "text/plain")
		}
	}
	w.WriteHeader(int(d.Status))
	_, _ = w.Write(d.Body)
}
