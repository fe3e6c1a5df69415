package h1

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"time"
)

// maxStaleRetries bounds how many reused connections one request may find
// closed by the server before it gives up.
const maxStaleRetries = 3

// aLongTimeAgo is a deadline that makes every pending read and write on a
// connection fail at once: how a cancelled context interrupts a request
// without a goroutine watching it.
var aLongTimeAgo = time.Unix(1, 0)

// InterimKey is the context key of an InterimHandler: a request whose
// context holds one has its 1xx responses (other than 100 Continue to its
// own Expect, and 101) passed to it. It is looked up only when such a
// response arrives; a proxy can answer it from a context value it keeps
// anyway, where an httptrace.ClientTrace would cost allocations on every
// request.
type InterimKey struct{}

// InterimHandler receives interim (1xx) responses; an error fails the
// request.
type InterimHandler interface {
	Interim(code int, header http.Header) error
}

// maxInterim bounds the 1xx responses before a final one, so a server
// cannot keep a request busy with them for ever.
const maxInterim = 10

var errTooManyInterim = errors.New("h1: too many 1xx responses")

// RoundTrip sends req on a pooled connection to req.URL.Host and reads the
// response head. The response body reads from the connection; closing it
// at its end gives the connection back to the pool. RoundTrip always
// closes req.Body.
//
// A request with a *httptrace.ClientTrace in its context gets GotConn
// (before its head is written, so a hook may still set req.Close) and
// Got1xxResponse for interim responses.
func (cl *Client) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	addr := req.URL.Host
	if addr == "" {
		closeBody(req)
		return nil, errors.New("h1: request has no host to connect to")
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, "80")
	}
	trace := httptrace.ContextClientTrace(ctx)
	for tries := 0; ; tries++ {
		if err := ctx.Err(); err != nil {
			closeBody(req)
			return nil, err
		}
		c, reused, err := cl.connect(ctx, addr)
		if err != nil {
			closeBody(req)
			return nil, err
		}
		if trace != nil && trace.GotConn != nil {
			trace.GotConn(httptrace.GotConnInfo{Conn: c.nc, Reused: reused, WasIdle: reused})
		}
		resp, early, err := cl.exchange(ctx, c, req, trace)
		if err == nil {
			return resp, nil
		}
		// The server may have closed the idle connection just as it was
		// taken: the request never reached it, so it is sent again.
		if !early || !reused || tries >= maxStaleRetries || !replayable(req) || ctx.Err() != nil {
			closeBody(req)
			return nil, err
		}
		if req.Body != nil && req.Body != http.NoBody {
			body, gerr := req.GetBody()
			if gerr != nil {
				return nil, err
			}
			r2 := *req
			r2.Body = body
			req = &r2
		}
	}
}

// replayable reports whether req may be sent again after a failure on a
// stale connection: net/http's rule, an idempotent method (or an
// Idempotency-Key) and a body it can produce again.
func replayable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, key := req.Header["Idempotency-Key"]
	_, xkey := req.Header["X-Idempotency-Key"]
	return key || xkey
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// exchange sends req on c and reads the response head. early reports a
// failure before any byte of a response arrived, the case in which a
// request on a reused connection is retried. On failure c is closed.
func (cl *Client) exchange(ctx context.Context, c *conn, req *http.Request, trace *httptrace.ClientTrace) (resp *http.Response, early bool, err error) {
	c.requests++
	closeAfter := req.Close ||
		(cl.opts.MaxRequestsPerConn > 0 && c.requests >= cl.opts.MaxRequestsPerConn) ||
		(cl.opts.MaxConnDuration > 0 && time.Since(c.created) >= cl.opts.MaxConnDuration)

	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, c.interrupt)
	}
	fail := func(e error) (*http.Response, bool, error) {
		if stop != nil {
			stop()
		}
		c.close()
		if cerr := ctx.Err(); cerr != nil {
			return nil, false, cerr
		}
		return nil, early, e
	}

	bw := writerPool.Get().(*bufio.Writer)
	bw.Reset(c.nc)
	defer func() {
		bw.Reset(nil)
		writerPool.Put(bw)
	}()

	hasBody := req.Body != nil && req.Body != http.NoBody
	chunked := hasBody && req.ContentLength <= 0
	if err := writeHead(bw, req, closeAfter, chunked); err != nil {
		closeBody(req)
		// Part of a long head may already be on the wire: the
		// connection is not reused.
		return fail(err)
	}
	early = true
	expect := hasBody && hasToken(req.Header["Expect"], "100-continue")
	var bodyErr error
	bodySent := !hasBody
	if hasBody && !expect {
		bodyErr = writeBody(bw, req, chunked)
		bodySent = true
	}
	if err := bw.Flush(); err != nil && bodyErr == nil {
		bodyErr = err
	}
	if expect && bodyErr == nil {
		// Wait briefly for the server's go-ahead; silence means send.
		_ = c.nc.SetReadDeadline(time.Now().Add(cl.opts.ExpectContinueTimeout))
		_, perr := c.br.Peek(1)
		_ = c.nc.SetReadDeadline(time.Time{})
		if ctx.Err() != nil {
			return fail(ctx.Err())
		}
		var ne net.Error
		switch {
		case perr == nil:
			// The server answered: 100 sends the body below, a final
			// status means it is not wanted.
		case errors.As(perr, &ne) && ne.Timeout():
			bodyErr = writeBody(bw, req, chunked)
			if err := bw.Flush(); err != nil && bodyErr == nil {
				bodyErr = err
			}
			bodySent = true
		default:
			closeBody(req)
			return fail(perr)
		}
	}
	if bodyErr != nil {
		// The server may have answered and closed without reading the
		// body (a 413, say): that answer is still the response.
		closeAfter = true
	}

	var rr *response
	for interim := 0; ; interim++ {
		if interim > maxInterim {
			closeBody(req)
			return fail(errTooManyInterim)
		}
		if _, err := c.br.Peek(1); err != nil {
			closeBody(req)
			if bodyErr != nil {
				return fail(bodyErr)
			}
			return fail(err)
		}
		early = false
		rr, err = readResponse(c.br, req, cl.opts.MaxResponseHeaderBytes, &c.scratch)
		if err != nil {
			closeBody(req)
			return fail(err)
		}
		resp = &rr.Response
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		if resp.StatusCode == http.StatusContinue && !bodySent {
			bodyErr = writeBody(bw, req, chunked)
			if err := bw.Flush(); err != nil && bodyErr == nil {
				bodyErr = err
			}
			bodySent = true
			if bodyErr != nil {
				closeAfter = true
			}
			continue
		}
		var herr error
		if trace != nil && trace.Got1xxResponse != nil {
			herr = trace.Got1xxResponse(resp.StatusCode, textproto.MIMEHeader(resp.Header))
		} else if h, ok := ctx.Value(InterimKey{}).(InterimHandler); ok {
			herr = h.Interim(resp.StatusCode, resp.Header)
		}
		if herr != nil {
			closeBody(req)
			return fail(herr)
		}
	}
	if !bodySent {
		// A final answer before the go-ahead: the body is never sent, so
		// the connection's framing is unknown to the server.
		closeAfter = true
		closeBody(req)
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// The connection now belongs to the upgraded protocol; the caller
		// relays it and ends it by closing the body.
		if stop != nil {
			stop()
		}
		_ = c.nc.SetDeadline(time.Time{})
		resp.Body = &upgradeBody{c: c}
		// As net/http reports it: no body in the HTTP sense. (-1 would
		// make http.Response.Write, with which a reverse proxy relays
		// the 101, add "Connection: close".)
		resp.ContentLength = 0
		return resp, false, nil
	}
	if !keepAlive(resp) {
		closeAfter = true
	}
	mode, n, err := frameBody(resp, req)
	if err != nil {
		return fail(err)
	}
	if mode == untilClose {
		closeAfter = true
	}
	resp.Close = closeAfter
	b := &rr.body
	*b = body{cl: cl, c: c, stop: stop, keep: !closeAfter, mode: mode, remaining: n, resp: resp}
	if mode == noBody {
		// HEAD, 204, 304 or an empty body: the connection is free now.
		resp.Body = http.NoBody
		b.release(true)
	} else {
		resp.Body = b
	}
	return resp, false, nil
}
