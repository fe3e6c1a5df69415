package grpcweb

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// seen is what the handler behind Wrap received.
type seen struct {
	header http.Header
	body   string
	err    error
	length int64
}

// serve starts Wrap(h) on a real HTTP/1.1 server; the handler's view of
// each request lands on the returned channel.
func serve(t *testing.T, respond func(w http.ResponseWriter, r *http.Request)) (string, chan seen) {
	t.Helper()
	got := make(chan seen, 1)
	srv := httptest.NewServer(Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		got <- seen{header: r.Header.Clone(), body: string(b), err: err, length: r.ContentLength}
		respond(w, r)
	})))
	t.Cleanup(srv.Close)
	return srv.URL, got
}

func post(t *testing.T, url string, header map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/grpc.testing.TestService/UnaryCall", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// grpcOK answers as a gRPC backend relayed by a reverse proxy does: a
// message, then grpc-status and a custom trailer under TrailerPrefix.
func grpcOK(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/grpc")
	w.Header().Set("Content-Length", "10")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(AppendFrame(nil, 0, []byte("pong")))
	w.Header().Set(http.TrailerPrefix+"Grpc-Status", "0")
	w.Header().Set(http.TrailerPrefix+"Body-Length", "4")
}

var (
	pongFrame = string(AppendFrame(nil, 0, []byte("pong")))
	okTrailer = string(AppendTrailerFrame(nil, http.Header{"Grpc-Status": {"0"}, "Body-Length": {"4"}}))
	b64       = base64.StdEncoding.EncodeToString
)

func TestWrap(t *testing.T) {
	ping := string(AppendFrame(nil, 0, []byte("ping")))
	tests := []struct {
		name    string
		header  map[string]string
		body    string
		respond func(http.ResponseWriter, *http.Request)
		// upstream is what the handler must see (header: value; "" for
		// absent).
		upstream     map[string]string
		upstreamBody string
		status       int
		// response headers, "" for absent.
		response map[string]string
		body2    string
	}{
		{
			name:         "binary unary",
			header:       map[string]string{"Content-Type": "application/grpc-web+proto", "X-Grpc-Web": "1", "X-User-Agent": "grpc-web-javascript/0.1"},
			body:         ping,
			respond:      grpcOK,
			upstream:     map[string]string{"Content-Type": "application/grpc", "Te": "trailers", "Grpc-Accept-Encoding": "identity,deflate,gzip", "Content-Length": "", "X-Grpc-Web": "1", "X-User-Agent": "grpc-web-javascript/0.1"},
			upstreamBody: ping,
			status:       200,
			// The upstream's Content-Length (10) would cut the body.
			response: map[string]string{"Content-Type": "application/grpc-web+proto", "Grpc-Status": "", "Trailer": ""},
			body2:    pongFrame + okTrailer,
		},
		{
			name:         "application/grpc-web, client's grpc-accept-encoding kept",
			header:       map[string]string{"Content-Type": "application/grpc-web", "Grpc-Accept-Encoding": "identity"},
			body:         ping,
			respond:      grpcOK,
			upstream:     map[string]string{"Content-Type": "application/grpc", "Grpc-Accept-Encoding": "identity"},
			upstreamBody: ping,
			status:       200,
			response:     map[string]string{"Content-Type": "application/grpc-web+proto"},
			body2:        pongFrame + okTrailer,
		},
		{
			name:   "text request in padded chunks, text response",
			header: map[string]string{"Content-Type": "application/grpc-web-text", "Accept": "application/grpc-web-text"},
			// A client flushed after 3 bytes: two padded chunks.
			body:         b64([]byte(ping[:3])) + b64([]byte(ping[3:])),
			respond:      grpcOK,
			upstream:     map[string]string{"Content-Type": "application/grpc", "Te": "trailers"},
			upstreamBody: ping,
			status:       200,
			response:     map[string]string{"Content-Type": "application/grpc-web-text+proto"},
			body2:        b64([]byte(pongFrame)) + b64([]byte(okTrailer)),
		},
		{
			name:         "text request without text Accept gets a binary response",
			header:       map[string]string{"Content-Type": "application/grpc-web-text+proto"},
			body:         b64([]byte(ping)),
			respond:      grpcOK,
			upstreamBody: ping,
			status:       200,
			response:     map[string]string{"Content-Type": "application/grpc-web+proto"},
			body2:        pongFrame + okTrailer,
		},
		{
			name:   "binary request, text Accept",
			header: map[string]string{"Content-Type": "application/grpc-web+proto", "Accept": "application/grpc-web-text+proto"},
			body:   ping, respond: grpcOK, upstreamBody: ping,
			status:   200,
			response: map[string]string{"Content-Type": "application/grpc-web-text+proto"},
			body2:    b64([]byte(pongFrame)) + b64([]byte(okTrailer)),
		},
		{
			name:   "announced trailers",
			header: map[string]string{"Content-Type": "application/grpc-web"},
			body:   ping,
			respond: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/grpc+proto")
				w.Header().Set("Trailer", "Grpc-Status, Grpc-Message")
				_, _ = w.Write(AppendFrame(nil, 0, []byte("pong")))
				w.Header().Set("Grpc-Status", "3")
				w.Header().Set("Grpc-Message", "bad%20argument")
			},
			upstreamBody: ping,
			status:       200,
			response:     map[string]string{"Trailer": "", "Grpc-Status": ""},
			body2:        pongFrame + string(AppendTrailerFrame(nil, http.Header{"Grpc-Status": {"3"}, "Grpc-Message": {"bad%20argument"}})),
		},
		{
			name:   "trailers-only: the status stays in the headers",
			header: map[string]string{"Content-Type": "application/grpc-web-text", "Accept": "application/grpc-web-text"},
			body:   b64([]byte(ping)),
			respond: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/grpc")
				w.Header().Set("Grpc-Status", "5")
				w.Header().Set("Grpc-Message", "gone")
				w.WriteHeader(http.StatusOK)
			},
			upstreamBody: ping,
			status:       200,
			response:     map[string]string{"Content-Type": "application/grpc-web-text+proto", "Grpc-Status": "5", "Grpc-Message": "gone"},
			body2:        "",
		},
		{
			name:   "non-gRPC error: status kept, body becomes grpc-message",
			header: map[string]string{"Content-Type": "application/grpc-web"},
			body:   ping,
			respond: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				w.Header().Set("Content-Length", "19")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte("no healthy upstream"))
			},
			upstreamBody: ping,
			status:       503,
			response:     map[string]string{"Content-Type": "application/grpc-web+proto", "Grpc-Status": "14", "Grpc-Message": "no healthy upstream", "Content-Length": "0"},
			body2:        "",
		},
		{
			name:   "non-gRPC 404 without a body",
			header: map[string]string{"Content-Type": "application/grpc-web"},
			body:   ping,
			respond: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusNotFound)
			},
			upstreamBody: ping,
			status:       404,
			// As Envoy: a response that ends with its headers gets no
			// grpc-status; the client reads the HTTP status.
			response: map[string]string{"Content-Type": "application/grpc-web+proto", "Grpc-Status": "", "Grpc-Message": "", "Content-Length": "0"},
		},
		{
			name:   "200 that is not gRPC: UNKNOWN, message percent-encoded",
			header: map[string]string{"Content-Type": "application/grpc-web"},
			body:   ping,
			respond: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				_, _ = w.Write([]byte("<p>100% ¿sí?</p>\n"))
			},
			upstreamBody: ping,
			status:       200,
			response:     map[string]string{"Content-Type": "application/grpc-web+proto", "Grpc-Status": "2", "Grpc-Message": "<p>100%25 %C2%BFs%C3%AD?</p>%0A"},
		},
		{
			name:   "a long error body is cut at 16 KiB",
			header: map[string]string{"Content-Type": "application/grpc-web"},
			body:   ping,
			respond: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusBadGateway)
				for range 3 {
					_, _ = w.Write([]byte(strings.Repeat("x", 10<<10)))
				}
			},
			upstreamBody: ping,
			status:       502,
			response:     map[string]string{"Grpc-Status": "14", "Grpc-Message": strings.Repeat("x", 16<<10)},
		},
		{
			name:   "invalid base64: 400, INTERNAL",
			header: map[string]string{"Content-Type": "application/grpc-web-text"},
			body:   "AAAA!!!!",
			respond: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusBadGateway)
			},
			status:   400,
			response: map[string]string{"Grpc-Status": "13", "Grpc-Message": "Bad gRPC-web request, invalid base64 data.", "Content-Length": "0"},
		},
		{
			name:   "base64 cut mid-group: 400",
			header: map[string]string{"Content-Type": "application/grpc-web-text"},
			body:   "AAAAAA",
			respond: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusBadGateway)
			},
			status:   400,
			response: map[string]string{"Grpc-Status": "13"},
		},
		{
			name:   "not gRPC-Web: untouched",
			header: map[string]string{"Content-Type": "application/json", "Content-Length": "2"},
			body:   "{}",
			respond: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusTeapot)
				_, _ = w.Write([]byte("{}"))
			},
			upstream:     map[string]string{"Content-Type": "application/json", "Te": "", "Grpc-Accept-Encoding": ""},
			upstreamBody: "{}",
			status:       418,
			response:     map[string]string{"Content-Type": "application/json", "Grpc-Status": ""},
			body2:        "{}",
		},
		{
			name:   "gRPC-Web with JSON or parameters: untouched, as in Envoy",
			header: map[string]string{"Content-Type": "application/grpc-web+json"},
			body:   "{}",
			respond: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusUnsupportedMediaType)
			},
			upstream:     map[string]string{"Content-Type": "application/grpc-web+json", "Te": ""},
			upstreamBody: "{}",
			status:       415,
			response:     map[string]string{"Grpc-Status": ""},
		},
		{
			name:   "native gRPC: untouched",
			header: map[string]string{"Content-Type": "application/grpc"},
			body:   ping,
			respond: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusServiceUnavailable)
			},
			upstream:     map[string]string{"Content-Type": "application/grpc", "Te": ""},
			upstreamBody: ping,
			status:       503,
			response:     map[string]string{"Grpc-Status": ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, got := serve(t, tt.respond)
			resp, body := post(t, url, tt.header, tt.body)
			up := <-got
			for k, want := range tt.upstream {
				if g := up.header.Get(k); g != want {
					t.Errorf("upstream %s = %q, want %q", k, g, want)
				}
			}
			if up.body != tt.upstreamBody {
				t.Errorf("upstream body %q, want %q", up.body, tt.upstreamBody)
			}
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			for k, want := range tt.response {
				if g := resp.Header.Get(k); g != want {
					t.Errorf("response %s = %q, want %q", k, g, want)
				}
			}
			if len(resp.Trailer) != 0 {
				t.Errorf("HTTP trailers %v: gRPC-Web carries them in the body", resp.Trailer)
			}
			if body != tt.body2 {
				t.Errorf("body\n got %q\nwant %q", body, tt.body2)
			}
		})
	}
}

// TestBadBase64EndsTheRequest: the handler's context ends, with
// ErrBadBase64 as its cause, as soon as the body turns out bad, so the
// data plane sees a client that went away rather than a failing upstream.
func TestBadBase64EndsTheRequest(t *testing.T) {
	var cause error
	h := Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Context().Err() != nil {
			t.Error("context ended before the body was read")
		}
		_, err := io.ReadAll(r.Body)
		if !errors.Is(err, ErrBadBase64) {
			t.Errorf("body read: %v, want ErrBadBase64", err)
		}
		cause = context.Cause(r.Context())
	}))
	r := httptest.NewRequest(http.MethodPost, "/s/m", strings.NewReader("AAAA\x00AAA"))
	r.Header.Set("Content-Type", ContentTypeGRPCWebText)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if !errors.Is(cause, ErrBadBase64) {
		t.Errorf("context cause %v, want ErrBadBase64", cause)
	}
	if rec.Code != http.StatusBadRequest || rec.Header().Get("Grpc-Status") != "13" {
		t.Errorf("answer %d grpc-status %q, want 400 and 13", rec.Code, rec.Header().Get("Grpc-Status"))
	}
}

func TestTranslated(t *testing.T) {
	var got []bool
	h := Wrap(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = append(got, Translated(r)) }))
	for _, ct := range []string{"application/grpc-web", "application/grpc"} {
		r := httptest.NewRequest(http.MethodPost, "/s/m", strings.NewReader("x"))
		r.Header.Set("Content-Type", ct)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	if len(got) != 2 || !got[0] || got[1] {
		t.Fatalf("Translated = %v, want [true false]", got)
	}
}

// TestStreamFlushedPerMessage: each message of a server stream reaches
// the client before the backend sends the next; the handler waits for the
// client's acknowledgement, so a bridge that held messages back would
// deadlock (and fail at the test's deadline) rather than pass.
func TestStreamFlushedPerMessage(t *testing.T) {
	for _, text := range []bool{false, true} {
		name := map[bool]string{false: "binary", true: "text"}[text]
		t.Run(name, func(t *testing.T) {
			const n = 5
			ack := make(chan struct{})
			url, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/grpc")
				w.WriteHeader(http.StatusOK)
				// Through wrappers, as the data plane flushes.
				rc := http.NewResponseController(&outer{w})
				for i := range n {
					msg := AppendFrame(nil, 0, []byte{byte('a' + i)})
					// Split the frame over two writes: a partial frame must
					// wait for the rest in text mode.
					_, _ = w.Write(msg[:3])
					_, _ = w.Write(msg[3:])
					if err := rc.Flush(); err != nil {
						t.Error(err)
						return
					}
					select {
					case <-ack:
					case <-r.Context().Done():
						return
					}
				}
				w.Header().Set(http.TrailerPrefix+"Grpc-Status", "0")
			})
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/s/m", strings.NewReader(string(AppendFrame(nil, 0, nil))))
			req.Header.Set("Content-Type", "application/grpc-web")
			if text {
				req.Header.Set("Accept", "application/grpc-web-text")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			r := frameReader{r: resp.Body, text: text}
			for i := range n {
				flags, payload, err := r.next()
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				if flags != 0 || string(payload) != string(rune('a'+i)) {
					t.Fatalf("message %d: flags %#x payload %q", i, flags, payload)
				}
				ack <- struct{}{}
			}
			flags, payload, err := r.next()
			if err != nil || flags != FlagTrailer || string(payload) != "grpc-status:0\r\n" {
				t.Fatalf("trailer frame: %#x %q %v", flags, payload, err)
			}
			if rest, _ := io.ReadAll(resp.Body); len(rest) != 0 || len(r.buf) != 0 {
				t.Fatalf("bytes after the trailer frame: %q", rest)
			}
		})
	}
}

// outer wraps a ResponseWriter the way the data plane's recording writer
// does: Flush is reached through Unwrap.
type outer struct{ http.ResponseWriter }

func (o *outer) Unwrap() http.ResponseWriter { return o.ResponseWriter }

// frameReader reads frames from a binary or base64 response body as a
// gRPC-Web client does.
type frameReader struct {
	r    io.Reader
	text bool
	dec  TextDecoder
	buf  []byte
}

func (f *frameReader) next() (byte, []byte, error) {
	for {
		if flags, payload, rest, ok := SplitFrame(f.buf); ok {
			f.buf = rest
			return flags, payload, nil
		}
		chunk := make([]byte, 512)
		n, err := f.r.Read(chunk)
		if f.text {
			var derr error
			if f.buf, derr = f.dec.Decode(f.buf, chunk[:n]); derr != nil {
				return 0, nil, derr
			}
		} else {
			f.buf = append(f.buf, chunk[:n]...)
		}
		if err != nil && n == 0 {
			return 0, nil, err
		}
	}
}
