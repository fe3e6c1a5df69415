package h1

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// rawServer accepts connections on 127.0.0.1 and runs handle on each, so
// a test controls every byte the client sees. It returns the address.
func rawServer(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				handle(conn)
			}()
		}
	}()
	return ln.Addr().String()
}

// cannedServer answers every request on a connection with the given
// bytes, then closes the connection when closeAfter is set.
func cannedServer(t testing.TB, response string, closeAfter bool) string {
	return rawServer(t, func(conn net.Conn) {
		br := bufio.NewReader(conn)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			if _, err := io.WriteString(conn, response); err != nil || closeAfter {
				return
			}
		}
	})
}

func TestMalformedResponses(t *testing.T) {
	for _, tc := range []struct {
		name     string
		response string
		// headErr: RoundTrip fails; otherwise reading the body fails.
		headErr bool
		opts    Options
	}{
		{name: "truncated head", response: "HTTP/1.1 200 OK\r\nContent-Le", headErr: true},
		{name: "not HTTP", response: "SSH-2.0-OpenSSH\r\n\r\n", headErr: true},
		{name: "bad status code", response: "HTTP/1.1 2x0 OK\r\n\r\n", headErr: true},
		{name: "obsolete line folding", response: "HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\nContent-Length: 0\r\n\r\n", headErr: true},
		{name: "space before colon", response: "HTTP/1.1 200 OK\r\nX-A : 1\r\nContent-Length: 0\r\n\r\n", headErr: true},
		{name: "conflicting content-length", response: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", headErr: true},
		{name: "negative content-length", response: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", headErr: true},
		{name: "unknown transfer-encoding", response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", headErr: true},
		{name: "head too large", response: "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 10000) + "\r\n\r\n", headErr: true, opts: Options{MaxResponseHeaderBytes: 4096}},
		{name: "endless interim responses", response: strings.Repeat("HTTP/1.1 102 Processing\r\n\r\n", 20) + "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", headErr: true},
		{name: "truncated content-length body", response: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"},
		{name: "bad chunk size", response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"},
		{name: "chunk without CRLF", response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX0\r\n\r\n"},
		{name: "truncated chunked body", response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"},
		{name: "missing last chunk", response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := cannedServer(t, tc.response, true)
			c := New(tc.opts)
			t.Cleanup(c.Close)
			resp, err := c.RoundTrip(newRequest(t, "GET", "http://"+addr, nil))
			if tc.headErr {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("got status %d; want an error", resp.StatusCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("RoundTrip: %v; want the head to parse", err)
			}
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil {
				t.Errorf("reading the body succeeded; want an error")
			}
			if n := c.IdleConns(addr); n != 0 {
				t.Errorf("idle connections = %d after a broken body, want 0", n)
			}
		})
	}
}

func TestResponseFraming(t *testing.T) {
	for _, tc := range []struct {
		name     string
		response string
		wantBody string
		wantKeep bool
		header   map[string]string
	}{
		{name: "until close", response: "HTTP/1.1 200 OK\r\n\r\nto the end", wantBody: "to the end"},
		{name: "HTTP/1.0 without keep-alive", response: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", wantBody: "ok"},
		{name: "HTTP/1.0 keep-alive", response: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", wantBody: "ok", wantKeep: true},
		{name: "chunked wins over content-length", response: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2;ext=1\r\nok\r\n0\r\n\r\n", wantBody: "ok", wantKeep: true},
		{name: "bare LF line ends", response: "HTTP/1.1 200 OK\nContent-Length: 2\nX-A: b\n\nok", wantBody: "ok", wantKeep: true, header: map[string]string{"X-A": "b"}},
		{name: "lower-case names are canonicalised", response: "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-thing:  v \r\n\r\nok", wantBody: "ok", wantKeep: true, header: map[string]string{"X-Thing": "v"}},
		{name: "bytes after the response", response: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", wantBody: "ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := cannedServer(t, tc.response, !tc.wantKeep)
			c := New(Options{})
			t.Cleanup(c.Close)
			resp, body := do(t, c, newRequest(t, "GET", "http://"+addr, nil))
			if body != tc.wantBody {
				t.Errorf("body %q, want %q", body, tc.wantBody)
			}
			for k, v := range tc.header {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			want := 0
			if tc.wantKeep {
				want = 1
			}
			if n := c.IdleConns(addr); n != want {
				t.Errorf("idle connections = %d, want %d", n, want)
			}
		})
	}
}

func TestRepeatedHeaderValuesStayApart(t *testing.T) {
	addr := cannedServer(t, "HTTP/1.1 200 OK\r\nX-A: 1\r\nX-B: 2\r\nX-A: 3\r\nContent-Length: 0\r\n\r\n", false)
	c := New(Options{})
	t.Cleanup(c.Close)
	resp, _ := do(t, c, newRequest(t, "GET", "http://"+addr, nil))
	resp.Header["X-B"] = append(resp.Header["X-B"], "appended")
	if got := resp.Header["X-A"]; len(got) != 2 || got[0] != "1" || got[1] != "3" {
		t.Errorf("X-A = %q, want [1 3]", got)
	}
	if got := resp.Header["X-B"]; len(got) != 2 || got[0] != "2" {
		t.Errorf("X-B = %q, want [2 appended]", got)
	}
}

// staleServer answers one request per connection with keep-alive
// announced, then closes the connection: the client's pooled connection
// is dead by the time it is reused.
func staleServer(t *testing.T) (addr string, conns *atomic.Int32, closed chan struct{}) {
	conns = new(atomic.Int32)
	closed = make(chan struct{}, 10)
	addr = rawServer(t, func(conn net.Conn) {
		conns.Add(1)
		req, err := http.ReadRequest(bufio.NewReader(conn))
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		conn.Close()
		closed <- struct{}{}
	})
	return addr, conns, closed
}

func TestStaleConnectionRetry(t *testing.T) {
	t.Run("idempotent request is retried", func(t *testing.T) {
		addr, conns, closed := staleServer(t)
		c := New(Options{})
		t.Cleanup(c.Close)
		do(t, c, newRequest(t, "GET", "http://"+addr, nil))
		<-closed
		resp, body := do(t, c, newRequest(t, "GET", "http://"+addr, nil))
		if resp.StatusCode != 200 || body != "ok" {
			t.Errorf("got %d %q, want 200 ok", resp.StatusCode, body)
		}
		if n := conns.Load(); n != 2 {
			t.Errorf("server saw %d connections, want 2", n)
		}
	})
	t.Run("replayable POST is retried", func(t *testing.T) {
		addr, _, closed := staleServer(t)
		c := New(Options{})
		t.Cleanup(c.Close)
		do(t, c, newRequest(t, "GET", "http://"+addr, nil))
		<-closed
		req := newRequest(t, "POST", "http://"+addr, strings.NewReader("x"))
		req.Header.Set("Idempotency-Key", "k1")
		resp, body := do(t, c, req)
		if resp.StatusCode != 200 || body != "ok" {
			t.Errorf("got %d %q, want 200 ok", resp.StatusCode, body)
		}
	})
	t.Run("POST is not retried", func(t *testing.T) {
		addr, conns, closed := staleServer(t)
		c := New(Options{})
		t.Cleanup(c.Close)
		do(t, c, newRequest(t, "GET", "http://"+addr, nil))
		<-closed
		if _, err := c.RoundTrip(newRequest(t, "POST", "http://"+addr, strings.NewReader("x"))); err == nil {
			t.Errorf("POST on a stale connection succeeded; want the error, since it may not be replayed")
		}
		if n := conns.Load(); n != 1 {
			t.Errorf("server saw %d connections, want 1", n)
		}
	})
}

func TestEarlyResponseWithoutReadingBody(t *testing.T) {
	// The server answers 413 and closes without reading a large body.
	addr := rawServer(t, func(conn net.Conn) {
		br := bufio.NewReader(conn)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		io.WriteString(conn, "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbig")
	})
	c := New(Options{})
	t.Cleanup(c.Close)
	big := strings.Repeat("x", 8<<20)
	req := newRequest(t, "POST", "http://"+addr, strings.NewReader(big))
	resp, err := c.RoundTrip(req)
	if err != nil {
		// The reset may arrive before the answer is read; either is a
		// correct outcome of the race, but never a hang.
		t.Logf("RoundTrip: %v", err)
		return
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 || string(b) != "big" {
		t.Errorf("got %d %q, want 413 big", resp.StatusCode, b)
	}
}
