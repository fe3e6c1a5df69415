package dataplane

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/meshgate/meshgate/internal/dataplane/upstream/h1"
)

// The HTTP/1.1 path. A request to a cluster served by the h1 client is
// relayed here rather than by httputil.ReverseProxy, which copies every
// request (header map, URL) before its Rewrite runs and allocates a copy
// buffer per response. Here the outbound request is the incoming one,
// edited in place: the handler owns it, and everything the access log and
// the router need from it was read before it is forwarded. The relay
// follows ReverseProxy's rules: hop-by-hop headers are removed both ways
// (Te: trailers survives), responses without a length and event streams
// are flushed as they arrive, trailers are announced and relayed, and a
// response that breaks off after its headers aborts the handler so the
// client sees the truncation. Upgrades stay with ReverseProxy, which
// relays the switched connection.

// usesH1Path reports whether r to cluster transport rt takes the
// HTTP/1.1 path.
func usesH1Path(rt http.RoundTripper, r *http.Request) bool {
	if _, ok := rt.(*h1.Client); !ok {
		return false
	}
	_, upgrade := r.Header["Upgrade"]
	return !upgrade
}

// hopHeaders are the hop-by-hop headers a proxy removes (RFC 9110 §7.6.1,
// and those RFC 2616 listed, which ReverseProxy still removes).
var hopHeaders = []string{
	"Connection",
	"Proxy-Connection",
	"Keep-Alive",
	"Proxy-Authenticate",
	"Proxy-Authorization",
	"Te",
	"Trailer",
	"Transfer-Encoding",
	"Upgrade",
}

// removeHopByHop removes the fields named in Connection and the known
// hop-by-hop fields.
func removeHopByHop(h http.Header) {
	for _, f := range h["Connection"] {
		for f != "" {
			var name string
			name, f, _ = strings.Cut(f, ",")
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, f := range hopHeaders {
		delete(h, f)
	}
}

func hasHeaderToken(vs []string, token string) bool {
	for _, v := range vs {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

var teTrailers = []string{"trailers"}

// forwardH1 relays r to its HTTP/1.1 cluster under the route's policies.
// ctx is the request's context with the route timeout and the exchange.
func (s *Server) forwardH1(w http.ResponseWriter, r *http.Request, ctx context.Context, x *exchange) {
	out := r.WithContext(ctx)
	x.outURL = *r.URL
	out.URL = &x.outURL
	out.Close = false
	if r.ContentLength == 0 {
		out.Body = nil
	}
	h := out.Header
	keepTE := hasHeaderToken(h["Te"], "trailers")
	removeHopByHop(h)
	if keepTE {
		h["Te"] = teTrailers
	}
	prepareOutbound(out, out, x)

	x.w = w
	res, err := s.forward(out)
	if err != nil {
		errorHandler(w, out, err)
		return
	}
	removeHopByHop(res.Header)
	decorate(res.Header, x)
	dst := w.Header()
	for k, vv := range res.Header {
		if old, ok := dst[k]; ok {
			dst[k] = append(old, vv...)
		} else {
			dst[k] = vv
		}
	}
	announced := len(res.Trailer)
	if announced > 0 {
		names := make([]string, 0, announced)
		for k := range res.Trailer {
			names = append(names, k)
		}
		dst.Add("Trailer", strings.Join(names, ", "))
	}
	w.WriteHeader(res.StatusCode)
	if err := copyResponseBody(w, res); err != nil {
		res.Body.Close()
		// Headers are out: all that is left is to cut the connection,
		// which the server does for this panic (serve logs it first).
		panic(http.ErrAbortHandler)
	}
	res.Body.Close() // fills res.Trailer
	if len(res.Trailer) > 0 {
		// Flushing before the trailers forces chunking, so net/http does
		// not compute a Content-Length for a short body.
		if f := flusherOf(w); f != nil {
			f.Flush()
		}
	}
	if len(res.Trailer) == announced {
		for k, vv := range res.Trailer {
			dst[k] = vv
		}
		return
	}
	for k, vv := range res.Trailer {
		for _, v := range vv {
			dst.Add(http.TrailerPrefix+k, v)
		}
	}
}

// exchangeCtx is the request context of the exchange x: one allocation,
// like context.WithValue, that answers two keys, the exchange's and the
// h1 client's InterimKey, so interim responses (103 Early Hints) reach
// the client without a per-request trace.
type exchangeCtx struct {
	context.Context
	x *exchange
}

func (c *exchangeCtx) Value(key any) any {
	switch key.(type) {
	case exchangeKey:
		return c.x
	case h1.InterimKey:
		if c.x.w != nil {
			return c.x
		}
		return nil
	}
	return c.Context.Value(key)
}

// Interim relays a 1xx response from the upstream, as ReverseProxy does.
func (x *exchange) Interim(code int, header http.Header) error {
	h := x.w.Header()
	for k, vv := range header {
		h[k] = vv
	}
	x.w.WriteHeader(code)
	// WriteHeader does not clear the header after a 1xx.
	clear(h)
	return nil
}

// copyBufs are the buffers response bodies are copied through.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// copyResponseBody relays the body of res to w. A body of known length
// goes through io.Copy, so the h1 body, the recording writer and the
// server's response writer can hand the socket-to-socket copy to the
// kernel (splice) when it is large; a body without a length, or an event
// stream, is flushed after every read, as ReverseProxy does.
func copyResponseBody(w http.ResponseWriter, res *http.Response) error {
	stream := res.ContentLength < 0 || strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream")
	if !stream {
		_, err := io.Copy(w, res.Body)
		return err
	}
	flusher := flusherOf(w)
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	for {
		n, rerr := res.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// flusherOf finds the http.Flusher under w's wrappers.
func flusherOf(w http.ResponseWriter) http.Flusher {
	for {
		if f, ok := w.(http.Flusher); ok {
			return f
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil
		}
		w = u.Unwrap()
	}
}
