package h1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// newRequest returns a request for url with ctx bound to the test.
func newRequest(t testing.TB, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// do runs one request and returns the response with its whole body.
func do(t testing.TB, c *Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	return resp, string(b)
}

// echoServer answers with the method, path, Host, body and the remote
// address, which tells a test whether a connection was reused.
func echoServer(t testing.TB) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Remote", r.RemoteAddr)
		w.Header().Set("X-Seen-Connection", r.Header.Get("Connection"))
		w.Header().Set("X-Seen-Te", strings.Join(r.TransferEncoding, ","))
		w.Header().Set("X-Seen-Length", fmt.Sprint(r.ContentLength))
		w.Header().Set("X-Seen-Trailer", r.Trailer.Get("X-Sum"))
		fmt.Fprintf(w, "%s %s host=%s x=%s body=%s", r.Method, r.URL.RequestURI(), r.Host, r.Header.Get("X-Test"), b)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func TestRoundTripAgainstNetHTTP(t *testing.T) {
	ts := echoServer(t)
	c := New(Options{})
	t.Cleanup(c.Close)
	for _, tc := range []struct {
		name       string
		method     string
		path       string
		body       io.Reader
		length     int64 // ContentLength to set; -1 streams chunked
		host       string
		wantBody   string
		wantTE     string
		wantLength string
	}{
		{name: "get", method: "GET", path: "/a/b?q=1&r=%20", wantBody: "GET /a/b?q=1&r=%20 host=example.com x=1 body=", wantLength: "0"},
		{name: "post content-length", method: "POST", path: "/p", body: strings.NewReader("hello"), length: 5, wantBody: "POST /p host=example.com x=1 body=hello", wantLength: "5"},
		{name: "post chunked", method: "POST", path: "/c", body: io.MultiReader(strings.NewReader("ab"), strings.NewReader("cd")), length: -1, wantBody: "POST /c host=example.com x=1 body=abcd", wantTE: "chunked", wantLength: "-1"},
		{name: "empty put", method: "PUT", path: "/e", wantBody: "PUT /e host=example.com x=1 body=", wantLength: "0"},
		{name: "escaped path", method: "GET", path: "/a%2Fb", wantBody: "GET /a%2Fb host=example.com x=1 body=", wantLength: "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := newRequest(t, tc.method, ts.URL+tc.path, tc.body)
			if tc.length != 0 {
				req.ContentLength = tc.length
			}
			req.Host = "example.com"
			req.Header.Set("X-Test", "1")
			resp, body := do(t, c, req)
			if resp.StatusCode != 200 || body != tc.wantBody {
				t.Errorf("got %d %q, want 200 %q", resp.StatusCode, body, tc.wantBody)
			}
			if got := resp.Header.Get("X-Seen-Te"); got != tc.wantTE {
				t.Errorf("server saw Transfer-Encoding %q, want %q", got, tc.wantTE)
			}
			if got := resp.Header.Get("X-Seen-Length"); got != tc.wantLength {
				t.Errorf("server saw Content-Length %q, want %q", got, tc.wantLength)
			}
		})
	}
}

func TestKeepAliveReusesConnection(t *testing.T) {
	ts := echoServer(t)
	c := New(Options{})
	t.Cleanup(c.Close)
	var remotes []string
	for range 5 {
		resp, _ := do(t, c, newRequest(t, "GET", ts.URL, nil))
		remotes = append(remotes, resp.Header.Get("X-Remote"))
	}
	for _, r := range remotes[1:] {
		if r != remotes[0] {
			t.Fatalf("requests came from %v; want one reused connection", remotes)
		}
	}
	if n := c.IdleConns(ts.Listener.Addr().String()); n != 1 {
		t.Errorf("idle connections = %d, want 1", n)
	}
}

func TestUnreadBodyClosesConnection(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Remote", r.RemoteAddr)
		w.Write(bytes.Repeat([]byte("x"), 100<<10))
	}))
	t.Cleanup(ts.Close)
	c := New(Options{})
	t.Cleanup(c.Close)
	resp, err := c.RoundTrip(newRequest(t, "GET", ts.URL, nil))
	if err != nil {
		t.Fatal(err)
	}
	first := resp.Header.Get("X-Remote")
	resp.Body.Close() // unread
	if n := c.IdleConns(ts.Listener.Addr().String()); n != 0 {
		t.Errorf("idle connections after an unread body = %d, want 0", n)
	}
	resp, body := do(t, c, newRequest(t, "GET", ts.URL, nil))
	if len(body) != 100<<10 {
		t.Errorf("body length %d, want %d", len(body), 100<<10)
	}
	if resp.Header.Get("X-Remote") == first {
		t.Errorf("the connection with an unread body was reused")
	}
}

func TestNoBodyResponses(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Remote", r.RemoteAddr)
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(204)
		case "/304":
			w.WriteHeader(304)
		default:
			w.Header().Set("Content-Length", "11")
			io.WriteString(w, "hello world")
		}
	}))
	t.Cleanup(ts.Close)
	c := New(Options{})
	t.Cleanup(c.Close)
	var remotes []string
	for _, tc := range []struct {
		method, path string
		status       int
		length       int64
	}{
		{"HEAD", "/", 200, 11},
		{"GET", "/204", 204, 0},
		{"GET", "/304", 304, 0},
		{"GET", "/", 200, 11},
	} {
		resp, body := do(t, c, newRequest(t, tc.method, ts.URL+tc.path, nil))
		wantBody := ""
		if tc.method == "GET" && tc.status == 200 {
			wantBody = "hello world"
		}
		if resp.StatusCode != tc.status || body != wantBody || resp.ContentLength != tc.length {
			t.Errorf("%s %s: got %d %q length %d, want %d %q length %d", tc.method, tc.path, resp.StatusCode, body, resp.ContentLength, tc.status, wantBody, tc.length)
		}
		remotes = append(remotes, resp.Header.Get("X-Remote"))
	}
	// Had a no-body response been read as having a body, the next
	// response would have been lost or the connection dropped.
	for _, r := range remotes[1:] {
		if r != remotes[0] {
			t.Errorf("connections %v; want one kept alive across no-body responses", remotes)
			break
		}
	}
}

func TestChunkedResponseWithTrailers(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		w.Write([]byte("part1,"))
		w.(http.Flusher).Flush()
		w.Write([]byte("part2"))
		w.Header().Set("X-Checksum", "abc")
		w.Header().Set(http.TrailerPrefix+"X-Late", "late")
	}))
	t.Cleanup(ts.Close)
	c := New(Options{})
	t.Cleanup(c.Close)
	resp, body := do(t, c, newRequest(t, "GET", ts.URL, nil))
	if body != "part1,part2" {
		t.Errorf("body %q", body)
	}
	if resp.ContentLength != -1 || len(resp.TransferEncoding) != 1 || resp.Header.Get("Transfer-Encoding") != "" {
		t.Errorf("ContentLength %d TransferEncoding %v header %q; want -1 [chunked] and no header", resp.ContentLength, resp.TransferEncoding, resp.Header.Get("Transfer-Encoding"))
	}
	if got := resp.Trailer.Get("X-Checksum"); got != "abc" {
		t.Errorf("trailer X-Checksum = %q, want abc", got)
	}
	if got := resp.Trailer.Get("X-Late"); got != "late" {
		t.Errorf("undeclared trailer X-Late = %q, want late", got)
	}
	if n := c.IdleConns(ts.Listener.Addr().String()); n != 1 {
		t.Errorf("idle connections = %d, want 1 after a complete chunked body", n)
	}
}

func TestRequestTrailers(t *testing.T) {
	ts := echoServer(t)
	c := New(Options{})
	t.Cleanup(c.Close)
	req := newRequest(t, "POST", ts.URL, strings.NewReader("data"))
	req.ContentLength = -1
	req.Trailer = http.Header{"X-Sum": {"42"}}
	resp, body := do(t, c, req)
	if !strings.HasSuffix(body, "body=data") || resp.Header.Get("X-Seen-Trailer") != "42" {
		t.Errorf("got body %q, trailer seen %q; want data and 42", body, resp.Header.Get("X-Seen-Trailer"))
	}
}

func TestConnectionCloseAndLimits(t *testing.T) {
	ts := echoServer(t)
	addr := ts.Listener.Addr().String()
	t.Run("request Close", func(t *testing.T) {
		c := New(Options{})
		t.Cleanup(c.Close)
		req := newRequest(t, "GET", ts.URL, nil)
		req.Close = true
		resp, _ := do(t, c, req)
		if got := resp.Header.Get("X-Seen-Connection"); got != "close" {
			t.Errorf("server saw Connection %q, want close", got)
		}
		if n := c.IdleConns(addr); n != 0 {
			t.Errorf("idle connections = %d, want 0", n)
		}
	})
	t.Run("MaxRequestsPerConn", func(t *testing.T) {
		c := New(Options{MaxRequestsPerConn: 2})
		t.Cleanup(c.Close)
		var seen []string
		var remotes []string
		for range 4 {
			resp, _ := do(t, c, newRequest(t, "GET", ts.URL, nil))
			seen = append(seen, resp.Header.Get("X-Seen-Connection"))
			remotes = append(remotes, resp.Header.Get("X-Remote"))
		}
		if want := []string{"", "close", "", "close"}; fmt.Sprint(seen) != fmt.Sprint(want) {
			t.Errorf("Connection headers seen %q, want %q", seen, want)
		}
		if remotes[0] != remotes[1] || remotes[1] == remotes[2] || remotes[2] != remotes[3] {
			t.Errorf("connections %v; want two requests on each of two connections", remotes)
		}
	})
	t.Run("MaxConnDuration", func(t *testing.T) {
		c := New(Options{MaxConnDuration: 50 * time.Millisecond})
		t.Cleanup(c.Close)
		first, _ := do(t, c, newRequest(t, "GET", ts.URL, nil))
		time.Sleep(60 * time.Millisecond)
		second, _ := do(t, c, newRequest(t, "GET", ts.URL, nil))
		if first.Header.Get("X-Remote") == second.Header.Get("X-Remote") {
			t.Errorf("a connection past its duration was reused")
		}
	})
	t.Run("IdleTimeout", func(t *testing.T) {
		c := New(Options{IdleTimeout: 30 * time.Millisecond})
		t.Cleanup(c.Close)
		do(t, c, newRequest(t, "GET", ts.URL, nil))
		deadline := time.Now().Add(5 * time.Second)
		for c.IdleConns(addr) != 0 {
			if time.Now().After(deadline) {
				t.Fatal("idle connection was never closed")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	t.Run("server Connection close", func(t *testing.T) {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			io.WriteString(w, "bye")
		}))
		t.Cleanup(ts.Close)
		c := New(Options{})
		t.Cleanup(c.Close)
		resp, body := do(t, c, newRequest(t, "GET", ts.URL, nil))
		if body != "bye" || !resp.Close {
			t.Errorf("got %q Close=%v, want bye and Close", body, resp.Close)
		}
		if n := c.IdleConns(ts.Listener.Addr().String()); n != 0 {
			t.Errorf("idle connections = %d, want 0", n)
		}
	})
}

func TestExpectContinue(t *testing.T) {
	var got atomic.Value
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/reject" {
			w.WriteHeader(http.StatusExpectationFailed)
			return
		}
		b, _ := io.ReadAll(r.Body)
		got.Store(string(b))
		io.WriteString(w, "ok")
	}))
	t.Cleanup(ts.Close)
	c := New(Options{})
	t.Cleanup(c.Close)

	req := newRequest(t, "POST", ts.URL+"/accept", strings.NewReader("payload"))
	req.Header.Set("Expect", "100-continue")
	resp, body := do(t, c, req)
	if resp.StatusCode != 200 || body != "ok" || got.Load() != "payload" {
		t.Errorf("accepted: got %d %q, server read %v; want 200 ok payload", resp.StatusCode, body, got.Load())
	}

	sent := &countingReader{r: strings.NewReader("never")}
	req = newRequest(t, "POST", ts.URL+"/reject", sent)
	req.ContentLength = 5
	req.Header.Set("Expect", "100-continue")
	resp, _ = do(t, c, req)
	if resp.StatusCode != http.StatusExpectationFailed {
		t.Errorf("rejected: status %d, want 417", resp.StatusCode)
	}
	if sent.n.Load() != 0 {
		t.Errorf("rejected: %d body bytes were sent; want none", sent.n.Load())
	}
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func TestInterimResponses(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		io.WriteString(w, "final")
	}))
	t.Cleanup(ts.Close)
	c := New(Options{})
	t.Cleanup(c.Close)
	var hints []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		hints = append(hints, fmt.Sprintf("%d %s", code, h.Get("Link")))
		return nil
	}}
	req := newRequest(t, "GET", ts.URL, nil)
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, body := do(t, c, req)
	if resp.StatusCode != 200 || body != "final" {
		t.Errorf("got %d %q, want 200 final", resp.StatusCode, body)
	}
	if len(hints) != 1 || hints[0] != "103 </style.css>; rel=preload" {
		t.Errorf("interim responses %q, want one 103 with its Link", hints)
	}
}

func TestUpgrade(t *testing.T) {
	// A raw server that switches to an echo protocol.
	addr := rawServer(t, func(conn net.Conn) {
		br := bufio.NewReader(conn)
		req, err := http.ReadRequest(br)
		if err != nil || req.Header.Get("Upgrade") != "echo" {
			return
		}
		io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		io.Copy(conn, br)
	})
	c := New(Options{})
	t.Cleanup(c.Close)
	req := newRequest(t, "GET", "http://"+addr+"/", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rw, ok := resp.Body.(io.ReadWriteCloser)
	if resp.StatusCode != 101 || !ok || resp.ContentLength != 0 {
		t.Fatalf("status %d, body writable %v, ContentLength %d; want 101, a writable body, 0 (as net/http)", resp.StatusCode, ok, resp.ContentLength)
	}
	io.WriteString(rw, "ping")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(rw, buf); err != nil || string(buf) != "ping" {
		t.Errorf("echo over the upgraded connection: %q %v", buf, err)
	}
}

func TestContextCancelInterruptsResponse(t *testing.T) {
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "half")
		w.(http.Flusher).Flush()
		<-release
	}))
	t.Cleanup(ts.Close)
	t.Cleanup(func() { close(release) })
	c := New(Options{})
	t.Cleanup(c.Close)

	ctx, cancel := context.WithCancel(context.Background())
	req := newRequest(t, "GET", ts.URL, nil).WithContext(ctx)
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Errorf("reading the rest after cancel succeeded; want an error")
	}
	resp.Body.Close()

	// Before headers: the round trip itself fails.
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	blocked := rawServer(t, func(conn net.Conn) { io.Copy(io.Discard, conn) })
	_, err = c.RoundTrip(newRequest(t, "GET", "http://"+blocked, nil).WithContext(ctx))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("round trip to a silent server: %v, want context.DeadlineExceeded", err)
	}
}

func TestGotConnSeesDialedConn(t *testing.T) {
	ts := echoServer(t)
	var dialed []net.Conn
	var mu sync.Mutex
	c := New(Options{Dial: func(ctx context.Context, addr string) (net.Conn, error) {
		conn, err := net.Dial("tcp", addr)
		mu.Lock()
		dialed = append(dialed, conn)
		mu.Unlock()
		return conn, err
	}})
	t.Cleanup(c.Close)
	var got []httptrace.GotConnInfo
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { got = append(got, info) }}
	for range 2 {
		req := newRequest(t, "GET", ts.URL, nil)
		do(t, c, req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	}
	if len(dialed) != 1 || len(got) != 2 || got[0].Conn != dialed[0] || got[1].Conn != dialed[0] || got[0].Reused || !got[1].Reused {
		t.Errorf("dialed %d, GotConn %+v; want one dialed connection seen fresh, then reused", len(dialed), got)
	}
}

func TestDialErrorIsReturned(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	c := New(Options{})
	_, err := c.RoundTrip(newRequest(t, "GET", "http://"+addr, nil))
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		t.Errorf("error %v; want the dial's *net.OpError", err)
	}
}

func TestInvalidRequestHead(t *testing.T) {
	ts := echoServer(t)
	c := New(Options{})
	t.Cleanup(c.Close)
	for name, mutate := range map[string]func(*http.Request){
		"host with CRLF":      func(r *http.Request) { r.Host = "a\r\nX-Evil: 1" },
		"field name with ':'": func(r *http.Request) { r.Header["Bad:Name"] = []string{"v"} },
	} {
		req := newRequest(t, "GET", ts.URL, nil)
		mutate(req)
		if _, err := c.RoundTrip(req); err == nil {
			t.Errorf("%s: request was sent; want an error", name)
		}
	}
	// A value with a line break is sent with the break as a space.
	req := newRequest(t, "GET", ts.URL, nil)
	req.Header.Set("X-Test", "a\r\nX-Evil: 1")
	_, body := do(t, c, req)
	if !strings.Contains(body, "x=a  X-Evil: 1") {
		t.Errorf("body %q; want the value with its line break turned to spaces", body)
	}
}

// limitedConn gives its place back to the dialer when closed.
type limitedConn struct {
	net.Conn
	once sync.Once
	free chan struct{}
}

func (c *limitedConn) Close() error {
	c.once.Do(func() { <-c.free })
	return c.Conn.Close()
}

// A dialer that allows one connection and waits for it to close (as
// maxConnections does) must not stall a request once that connection
// goes idle: the freed connection is handed to the waiting request.
func TestWaitingRequestGetsFreedConnection(t *testing.T) {
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		io.WriteString(w, r.URL.Path)
	}))
	t.Cleanup(ts.Close)
	slots := make(chan struct{}, 1)
	var dials atomic.Int32
	c := New(Options{Dial: func(ctx context.Context, addr string) (net.Conn, error) {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		dials.Add(1)
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			<-slots
			return nil, err
		}
		return &limitedConn{Conn: conn, free: slots}, nil
	}})
	t.Cleanup(c.Close)

	slow := make(chan string, 1)
	go func() {
		resp, err := c.RoundTrip(newRequest(t, "GET", ts.URL+"/slow", nil))
		if err != nil {
			slow <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- string(b)
	}()
	for dials.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	fast := make(chan string, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := c.RoundTrip(newRequest(t, "GET", ts.URL+"/fast", nil).WithContext(ctx))
		if err != nil {
			fast <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fast <- string(b)
	}()
	close(release)
	if got := <-slow; got != "/slow" {
		t.Errorf("slow request: %q", got)
	}
	if got := <-fast; got != "/fast" {
		t.Errorf("waiting request: %q, want /fast on the freed connection", got)
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("%d connections dialed, want 1", n)
	}
}
