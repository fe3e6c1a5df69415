package grpcweb

import (
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"
)

// discardWriter is a ResponseWriter that keeps nothing, so the benchmarks
// measure the bridge rather than a recorder.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) Flush()                      {}

func benchmarkWrap(b *testing.B, wrap bool, contentType, accept, body string) {
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		grpcOK(w, r)
	})
	if wrap {
		h = Wrap(h)
	}
	req, _ := http.NewRequest(http.MethodPost, "http://gw/s/m", nil)
	b.ReportAllocs()
	for b.Loop() {
		r := req.Clone(req.Context())
		r.Header.Set("Content-Type", contentType)
		if accept != "" {
			r.Header.Set("Accept", accept)
		}
		r.Body = io.NopCloser(strings.NewReader(body))
		h.ServeHTTP(&discardWriter{h: http.Header{}}, r)
	}
}

// BenchmarkWrap: the cost of the bridge per request, around a handler
// that answers a unary call (the pass-through case is what every other
// request pays).
func BenchmarkWrap(b *testing.B) {
	ping := string(AppendFrame(nil, 0, []byte(strings.Repeat("p", 100))))
	b.Run("no bridge", func(b *testing.B) { benchmarkWrap(b, false, "application/json", "", "{}") })
	b.Run("pass-through", func(b *testing.B) { benchmarkWrap(b, true, "application/json", "", "{}") })
	b.Run("binary", func(b *testing.B) { benchmarkWrap(b, true, ContentTypeGRPCWebProto, "", ping) })
	b.Run("text", func(b *testing.B) {
		benchmarkWrap(b, true, ContentTypeGRPCWebText, ContentTypeGRPCWebText, base64.StdEncoding.EncodeToString([]byte(ping)))
	})
}
