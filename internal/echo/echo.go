// Package echo is a small HTTP backend that says who it is. The demo, the
// examples and the end-to-end tests run it as the upstream, so a response
// shows which endpoint served it.
package echo

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// NameHeader carries the backend's name on every response.
const NameHeader = "X-Echo-Name"

// Handler answers every request with the backend's name in NameHeader and
// a short text body describing the request it received.
func Handler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(NameHeader, name)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		var b strings.Builder
		fmt.Fprintf(&b, "name=%s\nmethod=%s\nuri=%s\nhost=%s\nproto=%s\n", name, r.Method, r.RequestURI, r.Host, r.Proto)
		keys := make([]string, 0, len(r.Header))
		for k := range r.Header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "header %s=%s\n", k, strings.Join(r.Header[k], ","))
		}
		_, _ = w.Write([]byte(b.String()))
	})
}

// Server is a running echo backend.
type Server struct {
	Name string
	http *http.Server
	ln   net.Listener

	status atomic.Int64 // 0: answer normally
	delay  atomic.Int64 // nanoseconds to hold each request

	requests    atomic.Int64
	inFlight    atomic.Int64
	maxInFlight atomic.Int64
	gate        atomic.Pointer[chan struct{}]
	observe     atomic.Pointer[func(*http.Request)]

	connsMu sync.Mutex
	conns   map[net.Conn]struct{}
	killed  bool
}

// Requests returns how many requests the backend has received, answered
// or not, so tests can tell which backend a gateway sent traffic to and
// how often.
func (s *Server) Requests() int64 { return s.requests.Load() }

// MaxInFlight returns the most requests the backend has held at once.
func (s *Server) MaxInFlight() int64 { return s.maxInFlight.Load() }

// Hold makes the backend keep every request, new and in progress, until
// Release: a test can then fill a circuit breaker or saturate a mirror
// without guessing how long requests take.
func (s *Server) Hold() {
	ch := make(chan struct{})
	s.gate.Store(&ch)
}

// Release lets held requests proceed.
func (s *Server) Release() {
	if ch := s.gate.Swap(nil); ch != nil {
		close(*ch)
	}
}

// Observe calls f with every request before it is answered (f must be
// safe for concurrent use); nil stops observing.
func (s *Server) Observe(f func(*http.Request)) {
	if f == nil {
		s.observe.Store(nil)
		return
	}
	s.observe.Store(&f)
}

// Kill stops the backend the way a crash does: the listener closes, so
// new connections are refused, and every open connection, idle or in the
// middle of a request, is reset (TCP RST).
func (s *Server) Kill() {
	_ = s.ln.Close()
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	s.killed = true
	for c := range s.conns {
		reset(c)
	}
}

// reset closes c with an RST instead of an orderly shutdown.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// trackConn remembers open connections for Kill, and resets one accepted
// just before the listener closed.
func (s *Server) trackConn(c net.Conn, state http.ConnState) {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	switch state {
	case http.StateNew:
		if s.killed {
			reset(c)
			return
		}
		s.conns[c] = struct{}{}
	case http.StateClosed, http.StateHijacked:
		delete(s.conns, c)
	}
}

// SetStatus makes the backend answer every request with code (and its
// name in NameHeader) instead of echoing, so tests can turn a healthy
// endpoint into a failing one and back while it runs. 0 restores normal
// answers.
func (s *Server) SetStatus(code int) { s.status.Store(int64(code)) }

// SetDelay makes the backend hold every request for d before answering,
// which keeps requests in flight for load tests. 0 answers at once.
func (s *Server) SetDelay(d time.Duration) { s.delay.Store(int64(d)) }

// serveHTTP applies the runtime switches around the echo handler.
func (s *Server) serveHTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		n := s.inFlight.Add(1)
		defer s.inFlight.Add(-1)
		for {
			m := s.maxInFlight.Load()
			if n <= m || s.maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		if f := s.observe.Load(); f != nil {
			(*f)(r)
		}
		if g := s.gate.Load(); g != nil {
			select {
			case <-*g:
			case <-r.Context().Done():
				return
			}
		}
		if d := time.Duration(s.delay.Load()); d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		if code := int(s.status.Load()); code != 0 {
			w.Header().Set(NameHeader, s.Name)
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(code)
			_, _ = fmt.Fprintf(w, "name=%s status=%d\n", s.Name, code)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Start serves an echo backend called name on addr ("127.0.0.1:0" picks a
// free port). It speaks HTTP/1.1 and cleartext HTTP/2.
func Start(name, addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	s := &Server{Name: name, http: srv, ln: ln, conns: map[net.Conn]struct{}{}}
	srv.Handler = s.serveHTTP(Handler(name))
	srv.ConnState = s.trackConn
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err // the listener was closed under us; nothing to report to
		}
	}()
	return s, nil
}

// Addr returns the bound address ("127.0.0.1:port").
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the backend, releasing held requests first.
func (s *Server) Close() error {
	s.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return s.http.Shutdown(ctx)
}

// ServeTCP answers the connections ln accepts as a TCP echo backend named
// name, until ln is closed: it echoes what it reads until the client
// half-closes, then writes "|name" (and "|sni=<server name>" on a TLS
// connection), half-closes and drains. A client that half-closes gets its
// bytes back followed by the name, which proves half-close both ways.
func ServeTCP(ln net.Listener, name string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_, _ = io.Copy(c, c)
			suffix := "|" + name
			if tc, ok := c.(*tls.Conn); ok {
				suffix += "|sni=" + tc.ConnectionState().ServerName
			}
			_, _ = io.WriteString(c, suffix)
			if hc, ok := c.(interface{ CloseWrite() error }); ok {
				_ = hc.CloseWrite()
			}
			_, _ = io.Copy(io.Discard, c)
		}()
	}
}
