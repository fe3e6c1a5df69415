package dataplane

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/snapshot"
)

// h1Backend starts an HTTP/1.1 server for one test.
func h1Backend(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts.Listener.Addr().String()
}

// gatewayTo serves a one-route gateway in front of addr.
func gatewayTo(t *testing.T, addr string) string {
	t.Helper()
	ts, _ := serveSnapshot(t, oneRouteSnapshot(routeTo("c"), cluster("c", snapshot.LBRoundRobin, addr)))
	return ts.URL
}

func TestH1PathHopByHopHeaders(t *testing.T) {
	addr := h1Backend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "X-Backend-Private")
		w.Header().Set("X-Backend-Private", "secret")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-Backend-Public", "yes")
		for _, k := range []string{"X-Private", "Keep-Alive", "Te", "X-Kept", "Proxy-Authorization"} {
			fmt.Fprintf(w, "%s=%q\n", k, r.Header.Get(k))
		}
	})
	resp, body := get(t, gatewayTo(t, addr), "example.com", map[string]string{
		"Connection":          "X-Private",
		"X-Private":           "1",
		"Keep-Alive":          "timeout=5",
		"Te":                  "trailers, deflate",
		"X-Kept":              "1",
		"Proxy-Authorization": "Basic x",
	})
	want := "X-Private=\"\"\nKeep-Alive=\"\"\nTe=\"trailers\"\nX-Kept=\"1\"\nProxy-Authorization=\"\"\n"
	if body != want {
		t.Errorf("upstream saw:\n%s\nwant:\n%s", body, want)
	}
	if resp.Header.Get("X-Backend-Private") != "" || resp.Header.Get("Keep-Alive") != "" || resp.Header.Get("X-Backend-Public") != "yes" {
		t.Errorf("response headers %v: want the backend's hop-by-hop ones removed, X-Backend-Public kept", resp.Header)
	}
}

func TestH1PathTrailers(t *testing.T) {
	addr := h1Backend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Declared")
		io.WriteString(w, "body")
		w.(http.Flusher).Flush()
		w.Header().Set("X-Declared", "d")
		w.Header().Set(http.TrailerPrefix+"X-Undeclared", "u")
	})
	resp, body := get(t, gatewayTo(t, addr), "example.com", nil)
	if body != "body" {
		t.Errorf("body %q", body)
	}
	if resp.Trailer.Get("X-Declared") != "d" || resp.Trailer.Get("X-Undeclared") != "u" {
		t.Errorf("trailers %v; want X-Declared=d and X-Undeclared=u", resp.Trailer)
	}
}

// A large body of known length arrives whole with its length (the path
// that hands the copy to the kernel), and the upstream connection is
// reused afterwards.
func TestH1PathLargeBody(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789abcdef"), 256<<10) // 4 MiB
	var remotes []string
	addr := h1Backend(t, func(w http.ResponseWriter, r *http.Request) {
		remotes = append(remotes, r.RemoteAddr)
		w.Header().Set("Content-Length", fmt.Sprint(len(payload)))
		w.Write(payload)
	})
	url := gatewayTo(t, addr)
	for range 2 {
		resp, body := get(t, url, "example.com", nil)
		if resp.ContentLength != int64(len(payload)) || sha256.Sum256([]byte(body)) != sha256.Sum256(payload) {
			t.Fatalf("got %d bytes (Content-Length %d), want the %d-byte payload intact", len(body), resp.ContentLength, len(payload))
		}
	}
	if len(remotes) != 2 || remotes[0] != remotes[1] {
		t.Errorf("upstream connections %v; want one, reused", remotes)
	}
}

// A response without a length is relayed as it is produced.
func TestH1PathStreamsUnknownLength(t *testing.T) {
	release := make(chan struct{})
	addr := h1Backend(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "second\n")
	})
	defer close(release)
	req, _ := http.NewRequest("GET", gatewayTo(t, addr), nil)
	req.Host = "example.com"
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(resp.Body).ReadString('\n')
		line <- l
	}()
	select {
	case l := <-line:
		if l != "first\n" {
			t.Errorf("first line %q", l)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the first line never arrived while the upstream held the rest: the response was not flushed")
	}
}

// An upstream that breaks off mid-body makes the gateway cut the client
// connection rather than end the response as if it were complete.
func TestH1PathTruncatedUpstreamBody(t *testing.T) {
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
			http.ReadRequest(bufio.NewReader(conn))
			io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")
			conn.Close()
		}
	}()
	ts, logs := serveSnapshot(t, oneRouteSnapshot(routeTo("c"), cluster("c", snapshot.LBRoundRobin, ln.Addr().String())))
	req, _ := http.NewRequest("GET", ts.URL, nil)
	req.Host = "example.com"
	resp, err := http.DefaultTransport.RoundTrip(req)
	if l := logs.waitLines(t, 1)[0]; l["response_flags"] != "UC" {
		t.Errorf("access log flags %v, want UC (upstream connection termination)", l["response_flags"])
	}
	if err != nil {
		// Cut before the buffered head went out: also a visible failure.
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Errorf("status %d, read %q without error; want the truncation to show", resp.StatusCode, body)
	}
	if !strings.HasPrefix("only part", string(body)) {
		t.Errorf("body %q; want a prefix of what the upstream sent", body)
	}
}

// 103 Early Hints from the upstream reach the client before the final
// response, as ReverseProxy relays them.
func TestH1PathEarlyHints(t *testing.T) {
	addr := h1Backend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		io.WriteString(w, "final")
	})
	var hints []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		hints = append(hints, fmt.Sprintf("%d %s", code, h.Get("Link")))
		return nil
	}}
	req, _ := http.NewRequest("GET", gatewayTo(t, addr), nil)
	req.Host = "example.com"
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "final" || resp.Header.Get("Link") != "" {
		t.Errorf("final response %d %q Link=%q; want 200 final and no Link", resp.StatusCode, body, resp.Header.Get("Link"))
	}
	if len(hints) != 1 || hints[0] != "103 </style.css>; rel=preload" {
		t.Errorf("interim responses %q; want one 103 with its Link", hints)
	}
}
