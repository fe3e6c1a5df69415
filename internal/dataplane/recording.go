package dataplane

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"sync/atomic"
	"unsafe"
)

// recordingWriter remembers the status and counts body bytes for the
// access log. Unwrap lets http.ResponseController reach the real writer
// for flushing and upgrades.
type recordingWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *recordingWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// ReadFrom hands a body copy to the server's writer, which splices from
// a socket when it can.
func (w *recordingWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(w.ResponseWriter, src)
	}
	w.bytes += n
	return n, err
}

func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// countingBody counts request body bytes as the upstream reads them. The
// count is atomic: a transport may still be reading the body of a
// discarded attempt while the access log reads the count.
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// requestIDValue is the storage of a generated X-Request-Id: the text and
// the one-element header value pointing to it, so that generating an id
// costs no allocation of its own.
type requestIDValue struct {
	text  [36]byte
	value [1]string
}

// ensure gives the request an X-Request-Id (a random UUIDv4) when the
// client sent none, as Envoy does, so one id follows the request through
// access logs and upstreams. The header value refers to v, which must
// not be reused while the request or anything it produced (the access
// log record, a mirrored request) is alive.
func (v *requestIDValue) ensure(r *http.Request) {
	if r.Header.Get("X-Request-Id") != "" {
		return
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	s := &v.text
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	// The text is never written again, so the string may share it.
	v.value[0] = unsafe.String(&s[0], len(s))
	// A full slice (len == cap): an append elsewhere copies.
	r.Header["X-Request-Id"] = v.value[:1:1]
}
