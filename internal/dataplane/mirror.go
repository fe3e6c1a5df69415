package dataplane

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/meshgate/meshgate/internal/dataplane/upstream"
	"github.com/meshgate/meshgate/internal/lb"
)

// Mirror limits (Options overrides them).
const (
	// DefaultMaxMirrorsInFlight bounds the mirrored requests in flight to
	// one mirror cluster: a slow mirror fills it and further copies are
	// dropped, never queued, so it cannot build up load in the gateway.
	DefaultMaxMirrorsInFlight = 256
	// DefaultMirrorTimeout bounds a mirrored request whose route has no
	// timeout (Envoy gives a mirror the route's timeout, and Istio's
	// default is none, which would let a stuck mirror keep its place
	// forever).
	DefaultMirrorTimeout = 10 * time.Second
)

// startMirrors sends copies of the request to the route's mirror
// clusters, each with its percentage, fire and forget: the copies run on
// their own goroutines and contexts, their responses are discarded, and
// nothing about them reaches the client or the access-log line of the
// request. A copy carries the request as it goes upstream (rewrites and
// header operations applied) with "-shadow" appended to its host. A
// request with a body is copied once the whole body has been read within
// the retry buffer; a longer body, or one the upstream never reads to its
// end, is not mirrored.
func (s *Server) startMirrors(x *exchange, out *http.Request) {
	if len(x.route.Mirrors) == 0 {
		return
	}
	type copyTo struct {
		cluster *upstream.Cluster
		req     *http.Request
	}
	var copies []copyTo
	for _, m := range x.route.Mirrors {
		if !chance(x.rand, m.Percent) {
			continue
		}
		mc := x.state.upstreams.Cluster(m.Cluster)
		if mc == nil {
			continue
		}
		req := out.Clone(context.Background())
		req.Host = shadowHost(out.Host)
		req.Body, req.GetBody = nil, nil
		copies = append(copies, copyTo{mc, req})
	}
	if len(copies) == 0 {
		return
	}
	timeout := s.opts.MirrorTimeout
	if t := x.route.Timeout; t > 0 {
		timeout = t
	}
	send := func(body []byte) {
		for _, c := range copies {
			release, ok := c.cluster.AdmitMirror(s.opts.MaxMirrorsInFlight)
			if !ok {
				continue
			}
			go sendMirror(c.cluster, c.req, body, timeout, release)
		}
	}
	if x.body == nil {
		send(nil)
		return
	}
	x.body.onComplete(send)
}

// sendMirror makes one mirrored request and throws its response away.
// Its outcome still counts for the mirror cluster's outlier detection, as
// Envoy's does.
func sendMirror(c *upstream.Cluster, req *http.Request, body []byte, timeout time.Duration, release func()) {
	defer release()
	h := c.Pick(&lb.Request{})
	if h == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req = req.WithContext(ctx)
	req.URL.Scheme, req.URL.Host = "http", h.Address
	req.TransferEncoding = nil
	req.ContentLength = int64(len(body))
	if len(body) > 0 {
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	} else {
		req.Body = http.NoBody
	}
	h.Begin()
	defer h.End()
	resp, err := c.Transport.RoundTrip(req)
	reportOutcome(c, h, req, resp, err)
	if err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// shadowHost is Envoy's mirror authority: "-shadow" appended to the host,
// before any port ("a.com:80" becomes "a.com-shadow:80").
func shadowHost(host string) string {
	if h, p, err := net.SplitHostPort(host); err == nil {
		return net.JoinHostPort(h+"-shadow", p)
	}
	return host + "-shadow"
}
