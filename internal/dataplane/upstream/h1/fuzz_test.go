package h1

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"reflect"
	"testing"
)

// FuzzResponse feeds arbitrary bytes to the response parser and body
// readers. They must never panic or read past the input, and a head that
// both this parser and net/http accept must mean the same status and
// fields to both.
func FuzzResponse(f *testing.F) {
	for _, seed := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n2;a=b\r\nok\r\n0\r\nX-T: 1\r\n\r\n",
		"HTTP/1.0 204 No Content\r\nX-A: 1\r\nX-A: 2\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
		"HTTP/1.1 103 Early Hints\r\nLink: <a>\r\n\r\nHTTP/1.1 200 OK\r\n\r\nbody",
		"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cl := New(Options{})
		defer cl.Close()
		req, _ := http.NewRequest("GET", "http://example.com/", nil)
		br := bufio.NewReaderSize(bytes.NewReader(data), 4096)
		var scratch []byte
		rr, err := readResponse(br, req, 1<<20, &scratch)
		ref, refErr := http.ReadResponse(bufio.NewReader(bytes.NewReader(data)), req)
		if err != nil {
			return
		}
		resp := &rr.Response
		if resp.StatusCode < 100 || resp.StatusCode > 999 {
			t.Fatalf("status %d out of range", resp.StatusCode)
		}
		if refErr == nil {
			if ref.StatusCode != resp.StatusCode {
				t.Fatalf("status %d, net/http read %d", resp.StatusCode, ref.StatusCode)
			}
			for k, vs := range resp.Header {
				if k == "Content-Length" || k == "Transfer-Encoding" || k == "Trailer" {
					continue // net/http moves these into fields
				}
				if !reflect.DeepEqual(vs, ref.Header[k]) {
					t.Fatalf("header %s = %q, net/http read %q", k, vs, ref.Header[k])
				}
			}
		}
		mode, n, err := frameBody(resp, req)
		if err != nil || mode == noBody {
			return
		}
		a, b := net.Pipe()
		defer b.Close()
		c := &conn{nc: a, br: br, addr: "x"}
		body := &body{cl: cl, c: c, keep: true, mode: mode, remaining: n, resp: resp}
		got, _ := io.ReadAll(body)
		body.Close()
		if len(got) > len(data) {
			t.Fatalf("read %d body bytes from %d bytes of input", len(got), len(data))
		}
	})
}
