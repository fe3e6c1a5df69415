package dataplane

import (
	"context"
	"net"
	"net/http"
	"strconv"

	"github.com/meshgate/meshgate/internal/dataplane/upstream"
	"github.com/meshgate/meshgate/internal/lb"
	"github.com/meshgate/meshgate/internal/snapshot"
	"github.com/meshgate/meshgate/internal/telemetry/accesslog"
)

// exchange is the per-request record shared by the steps of the request
// path: it is how the forwarder learns its target and how the access log
// learns the outcome.
type exchange struct {
	rec     accesslog.Record
	cluster *upstream.Cluster
	host    *lb.Host
	// tried lists hosts already attempted, so a retry picks another.
	tried   []*lb.Host
	lbReq   lb.Request
	rand    lb.Rand
	scheme  string
	attempt int
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
	x.rec.Path = r.URL.RequestURI()
	x.rec.Protocol = r.Proto
	x.rec.Authority = r.Host
	x.rec.DownstreamRemoteAddress = r.RemoteAddr
	x.rec.UserAgent = r.UserAgent()
	x.scheme = "http"
	if r.TLS != nil {
		x.scheme = "https"
	}
	ensureRequestID(r)
	x.rec.RequestID = r.Header.Get("X-Request-Id")
	x.rec.XForwardedFor = r.Header.Get("X-Forwarded-For")

	rw := &recordingWriter{ResponseWriter: w}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &countingBody{ReadCloser: r.Body, n: &x.rec.BytesReceived}
	}
	s.route(rw, r, address, x)

	x.rec.Status = rw.status
	if x.rec.Status == 0 && x.rec.Flags&accesslog.DownstreamConnectionTermination == 0 {
		x.rec.Status = http.StatusOK
	}
	x.rec.BytesSent = rw.bytes
	x.rec.Duration = now().Sub(x.rec.Start)
	s.opts.AccessLog.Log(&x.rec)
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
	x.rec.RouteName = rt.Name
	switch {
	case rt.DirectResponse != nil:
		writeDirect(w, x, rt.DirectResponse)
		return
	case rt.Redirect != nil:
		writeRedirect(w, r, x, rt.Redirect, ls.spec)
		return
	}

	name := pickWeighted(rt.Destinations, x.rand)
	x.rec.UpstreamCluster = name
	c := st.upstreams.Cluster(name)
	if c == nil {
		reply(w, x, http.StatusServiceUnavailable, accesslog.NoClusterFound, "")
		return
	}
	x.cluster = c
	x.lbReq = lb.Request{}
	if h := c.Spec.LB.Hash; h != nil {
		x.lbReq.Hash, x.lbReq.HasHash = requestHash(w, r, h)
	}
	host := c.Pick(&x.lbReq)
	if host == nil {
		reply(w, x, http.StatusServiceUnavailable, accesslog.NoHealthyUpstream, "no healthy upstream")
		return
	}
	x.host = host
	s.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), exchangeKey{}, x)))
}

// pickWeighted chooses a destination with probability weight/sum(weights).
func pickWeighted(ds []snapshot.WeightedCluster, rnd lb.Rand) string {
	if len(ds) == 1 {
		return ds[0].Cluster
	}
	var total uint64
	for _, d := range ds {
		total += uint64(d.Weight)
	}
	if total == 0 {
		if len(ds) == 0 {
			return ""
		}
		return ds[0].Cluster
	}
	n := rnd.Uint64() % total
	for _, d := range ds {
		if n < uint64(d.Weight) {
			return d.Cluster
		}
		n -= uint64(d.Weight)
	}
	return ds[len(ds)-1].Cluster
}

// reply answers locally, as Envoy does for requests it cannot route.
func reply(w http.ResponseWriter, x *exchange, status int, flag accesslog.Flags, body string) {
	x.rec.Flags |= flag
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

func writeDirect(w http.ResponseWriter, x *exchange, d *snapshot.DirectResponse) {
	if len(d.Body) > 0 {
		w.Header().Set("Content-Length", strconv.Itoa(len(d.Body)))
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "text/plain")
		}
	}
	w.WriteHeader(int(d.Status))
	_, _ = w.Write(d.Body)
}

func writeRedirect(w http.ResponseWriter, r *http.Request, x *exchange, rd *snapshot.Redirect, l *snapshot.Listener) {
	scheme := x.scheme
	if rd.Scheme != "" {
		scheme = rd.Scheme
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if rd.Authority != "" {
		host = rd.Authority
	}
	if rd.Port != 0 {
		host = net.JoinHostPort(host, strconv.FormatUint(uint64(rd.Port), 10))
	}
	uri := r.URL.RequestURI()
	if rd.URI != "" {
		uri = rd.URI
		if r.URL.RawQuery != "" {
			uri += "?" + r.URL.RawQuery
		}
	}
	code := int(rd.Code)
	if code == 0 {
		code = http.StatusMovedPermanently
	}
	w.Header().Set("Location", scheme+"://"+host+uri)
	w.WriteHeader(code)
}
