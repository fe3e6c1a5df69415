package h1

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// fastServer answers every request head with a fixed 100-byte response,
// as cheaply as a server can, so a benchmark measures the client.
func fastServer(b *testing.B) string {
	resp := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n" + strings.Repeat("x", 100)
	return rawServer(b, func(conn net.Conn) {
		br := bufio.NewReader(conn)
		for {
			// Requests here have no body: the head ends the request.
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					return
				}
				if len(line) <= 2 {
					break
				}
			}
			if _, err := io.WriteString(conn, resp); err != nil {
				return
			}
		}
	})
}

// BenchmarkRoundTrip compares this client with net/http's Transport on
// one keep-alive connection: a GET with a few headers, 100-byte body.
func BenchmarkRoundTrip(b *testing.B) {
	addr := fastServer(b)
	clients := []struct {
		name string
		rt   http.RoundTripper
	}{
		{"h1", New(Options{})},
		{"net-http-transport", &http.Transport{DisableCompression: true}},
	}
	for _, c := range clients {
		b.Run(c.name, func(b *testing.B) {
			req, _ := http.NewRequest("GET", "http://"+addr+"/path?q=1", nil)
			req.Header.Set("User-Agent", "bench")
			req.Header.Set("Accept", "*/*")
			req.Header.Set("X-Request-Id", "0a1b2c3d-0000-4000-8000-000000000000")
			buf := make([]byte, 512)
			b.ReportAllocs()
			for b.Loop() {
				resp, err := c.rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.ReadFull(resp.Body, buf[:100])
				resp.Body.Read(buf) // reaches EOF: the connection goes back
				resp.Body.Close()
				if n != 100 || !bytes.Equal(buf[:1], []byte("x")) {
					b.Fatalf("body %q", buf[:n])
				}
			}
		})
	}
}
