package tcpproxy

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// captureHello returns the first record a crypto/tls client sends: its
// ClientHello, as a real client writes it.
func captureHello(t testing.TB, cfg *tls.Config) []byte {
	t.Helper()
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	go func() { _ = tls.Client(c1, cfg).Handshake() }()
	_ = c2.SetDeadline(time.Now().Add(5 * time.Second))
	hdr := make([]byte, recordHeaderLen)
	if _, err := io.ReadFull(c2, hdr); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(c2, body); err != nil {
		t.Fatal(err)
	}
	return append(hdr, body...)
}

// fragment re-splits one handshake record into records of at most n
// bytes of payload each, as a client may legally send it.
func fragment(record []byte, n int) []byte {
	payload := record[recordHeaderLen:]
	var out []byte
	for len(payload) > 0 {
		k := min(n, len(payload))
		out = append(out, recordTypeHandshake, record[1], record[2], byte(k>>8), byte(k))
		out = append(out, payload[:k]...)
		payload = payload[k:]
	}
	return out
}

func TestReadClientHello(t *testing.T) {
	withSNI := captureHello(t, &tls.Config{ServerName: "API.Example.com", NextProtos: []string{"h2", "http/1.1"}})
	noSNI := captureHello(t, &tls.Config{InsecureSkipVerify: true})
	tests := []struct {
		name     string
		in       []byte
		wantSNI  string
		wantALPN []string
		wantErr  error // nil: success; errNotTLS or any error otherwise
		anyErr   bool
	}{
		{name: "sni and alpn", in: withSNI, wantSNI: "api.example.com", wantALPN: []string{"h2", "http/1.1"}},
		{name: "no sni", in: noSNI, wantSNI: ""},
		{name: "split over records", in: fragment(withSNI, 7), wantSNI: "api.example.com", wantALPN: []string{"h2", "http/1.1"}},
		{name: "one byte records", in: fragment(withSNI, 1), wantSNI: "api.example.com", wantALPN: []string{"h2", "http/1.1"}},
		{name: "plain http", in: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), wantErr: ErrNotTLS},
		{name: "truncated", in: withSNI[:len(withSNI)-10], anyErr: true},
		{name: "empty", in: nil, anyErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Trailing bytes after the hello must not be read.
			in := append(append([]byte(nil), tt.in...), "after"...)
			r := bytes.NewReader(in)
			hello, raw, err := ReadClientHello(r)
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			case tt.anyErr:
				if err == nil {
					t.Fatal("want an error")
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if hello.ServerName != tt.wantSNI {
				t.Errorf("ServerName = %q, want %q", hello.ServerName, tt.wantSNI)
			}
			if len(hello.ALPN) != len(tt.wantALPN) {
				t.Errorf("ALPN = %q, want %q", hello.ALPN, tt.wantALPN)
			}
			if !bytes.Equal(raw, tt.in) {
				t.Errorf("raw is %d bytes, want the %d bytes of the hello", len(raw), len(tt.in))
			}
			if rest, _ := io.ReadAll(r); string(rest) != "after" {
				t.Errorf("read past the hello: %q left", rest)
			}
		})
	}
}

// FuzzReadClientHello checks that the reader never panics or reads past
// the hello, and that whenever both it and crypto/tls accept an input,
// they agree on the server name.
func FuzzReadClientHello(f *testing.F) {
	f.Add(captureHello(f, &tls.Config{ServerName: "a.example.com", NextProtos: []string{"h2"}}))
	f.Add(captureHello(f, &tls.Config{InsecureSkipVerify: true}))
	f.Add(fragment(captureHello(f, &tls.Config{ServerName: "b.example.com"}), 50))
	f.Add([]byte{22, 3, 1, 0, 4, 1, 0, 0, 0})
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		hello, raw, err := ReadClientHello(r)
		if len(raw)+r.Len() != len(in) || !bytes.Equal(raw, in[:len(raw)]) {
			t.Fatalf("raw (%d bytes) is not the prefix read", len(raw))
		}
		if err != nil {
			return
		}
		got, ok := goServerName(in)
		// The reader lower-cases names, which crypto/tls leaves alone.
		if ok && !strings.EqualFold(got, hello.ServerName) {
			t.Fatalf("ServerName = %q, crypto/tls saw %q", hello.ServerName, got)
		}
	})
}

// goServerName runs crypto/tls's server side on in and reports the SNI it
// parsed, if it got as far as a ClientHello.
func goServerName(in []byte) (string, bool) {
	c1, c2 := net.Pipe()
	defer c1.Close()
	got := make(chan string, 1)
	srv := tls.Server(c1, &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		got <- h.ServerName
		return nil, errors.New("stop")
	}})
	go func() {
		_, _ = c2.Write(in)
		c2.Close()
	}()
	go func() { _, _ = io.Copy(io.Discard, c2) }()
	_ = c1.SetDeadline(time.Now().Add(2 * time.Second))
	_ = srv.Handshake()
	select {
	case s := <-got:
		return s, true
	default:
		return "", false
	}
}
