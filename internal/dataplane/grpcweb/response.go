package grpcweb

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
)

// maxMessageBody bounds how much of a non-gRPC response body becomes
// grpc-message, as Envoy bounds its buffer (16 KiB).
const maxMessageBody = 16 << 10

// responseWriter turns the response to a converted request into
// gRPC-Web. The handler behind it writes headers into a map of its own,
// so that trailers it sets after the body (announced in "Trailer" or
// under http.TrailerPrefix) end up in the trailer frame instead of in
// real HTTP trailers.
type responseWriter struct {
	w      http.ResponseWriter
	header http.Header
	text   bool
	mode   mode
	status int
	// announced are the trailer names declared in "Trailer" when the
	// headers were written.
	announced []string
	// body is the start of a non-gRPC response body (its grpc-message).
	body []byte
	enc  textEncoder
	out  []byte // reused buffer for -text output
}

type mode uint8

const (
	// modeNone: nothing written yet.
	modeNone mode = iota
	// modeGRPC: headers sent; the body streams through.
	modeGRPC
	// modeStatus: a non-gRPC response, held until the end to become a
	// gRPC-Web status.
	modeStatus
)

func newResponseWriter(w http.ResponseWriter, text bool) *responseWriter {
	return &responseWriter{w: w, header: http.Header{}, text: text}
}

func (rw *responseWriter) Header() http.Header { return rw.header }

// Unwrap lets http.ResponseController reach the connection's writer for
// deadlines; Flush is answered here.
func (rw *responseWriter) Unwrap() http.ResponseWriter { return rw.w }

func (rw *responseWriter) WriteHeader(code int) {
	// Informational responses mean nothing to a gRPC-Web client; the
	// final response follows.
	if rw.mode != modeNone || code < 200 {
		return
	}
	rw.status = code
	if !isGRPCResponse(code, rw.header) {
		rw.mode = modeStatus
		return
	}
	rw.mode = modeGRPC
	for _, v := range rw.header["Trailer"] {
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				rw.announced = append(rw.announced, http.CanonicalHeaderKey(k))
			}
		}
	}
	rw.sendHeader(false)
}

// sendHeader copies the handler's headers to the client's, except those
// that describe the body the handler wrote rather than the one sent.
// empty says that no body follows.
func (rw *responseWriter) sendHeader(empty bool) {
	dst := rw.w.Header()
	for k, vs := range rw.header {
		switch {
		case k == "Content-Length", k == "Trailer", strings.HasPrefix(k, http.TrailerPrefix):
			continue
		}
		dst[k] = vs
	}
	dst.Set("Content-Type", rw.contentType())
	if empty {
		dst.Set("Content-Length", "0")
	}
	rw.w.WriteHeader(rw.status)
}

func (rw *responseWriter) contentType() string {
	if rw.text {
		return ContentTypeGRPCWebTextProto
	}
	return ContentTypeGRPCWebProto
}

func (rw *responseWriter) Write(p []byte) (int, error) {
	if rw.mode == modeNone {
		rw.WriteHeader(http.StatusOK)
	}
	switch rw.mode {
	case modeStatus:
		if room := maxMessageBody - len(rw.body); room > 0 {
			rw.body = append(rw.body, p[:min(room, len(p))]...)
		}
		return len(p), nil
	case modeGRPC:
		if !rw.text {
			return rw.w.Write(p)
		}
		rw.out = rw.enc.encode(rw.out[:0], p)
		if len(rw.out) > 0 {
			if _, err := rw.w.Write(rw.out); err != nil {
				return 0, err
			}
		}
		return len(p), nil
	}
	return len(p), nil
}

// Flush sends what a gRPC response has so far: each message reaches the
// client when the backend sends it. A held status has nothing to flush.
func (rw *responseWriter) Flush() {
	if rw.mode == modeNone {
		rw.WriteHeader(http.StatusOK)
	}
	if rw.mode == modeGRPC {
		_ = http.NewResponseController(rw.w).Flush()
	}
}

// rejectBody replaces a response not yet sent with Envoy's reply to a
// -text body that is not base64: 400, which becomes grpc-status INTERNAL.
func (rw *responseWriter) rejectBody() {
	if rw.mode == modeGRPC {
		return
	}
	rw.header = http.Header{}
	rw.mode, rw.status, rw.body = modeStatus, http.StatusBadRequest, []byte(badBase64)
}

// finish ends the response once the handler has returned: the trailer
// frame of a gRPC response, the whole of a gRPC-Web status.
func (rw *responseWriter) finish() {
	switch rw.mode {
	case modeNone:
		// The handler wrote nothing, which net/http answers 200: not a
		// gRPC response.
		rw.WriteHeader(http.StatusOK)
		rw.finish()
	case modeStatus:
		// A response with a body gets the status Envoy gives it when the
		// body ends. One that ends with its headers (no body, as a 404
		// NR) gets none in Envoy: only the content type changes, and a
		// gRPC-Web client falls back to the HTTP status.
		if len(rw.body) > 0 {
			rw.header.Set("Grpc-Status", strconv.Itoa(statusFromHTTP(rw.status)))
			rw.header.Set("Grpc-Message", percentEncode(rw.body))
		}
		rw.sendHeader(true)
	case modeGRPC:
		trailers := rw.trailers()
		if len(trailers) == 0 {
			// Trailers-only: the status went out in the headers.
			return
		}
		frame := AppendTrailerFrame(nil, trailers)
		if rw.text {
			frame = base64.StdEncoding.AppendEncode(nil, frame)
		}
		_, _ = rw.w.Write(frame)
	}
}

// trailers collects what the handler set after the body.
func (rw *responseWriter) trailers() http.Header {
	t := http.Header{}
	for _, k := range rw.announced {
		if vs := rw.header[k]; len(vs) > 0 {
			t[k] = vs
		}
	}
	for k, vs := range rw.header {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok && len(vs) > 0 {
			t[http.CanonicalHeaderKey(name)] = append(t[http.CanonicalHeaderKey(name)], vs...)
		}
	}
	return t
}

// isGRPCResponse is Envoy's test for a response that needs no
// conversion to a status: 200 with a gRPC or proto gRPC-Web content
// type, or a trailers-only response, whose headers carry grpc-status.
func isGRPCResponse(code int, h http.Header) bool {
	if h.Get("Grpc-Status") != "" {
		return true
	}
	if code != http.StatusOK {
		return false
	}
	ct := h.Get("Content-Type")
	if ct == "application/grpc" || strings.HasPrefix(ct, "application/grpc+") || strings.HasPrefix(ct, "application/grpc;") {
		return true
	}
	// Parameters aside, case-insensitively, as Envoy compares.
	base, _, _ := strings.Cut(ct, ";")
	base = strings.TrimSpace(base)
	return strings.EqualFold(base, ContentTypeGRPCWeb) || strings.EqualFold(base, ContentTypeGRPCWebProto)
}

// statusFromHTTP is gRPC's mapping of an HTTP status to a gRPC status
// (grpc/grpc doc/http-grpc-status-mapping.md), which Envoy applies.
func statusFromHTTP(code int) int {
	switch code {
	case http.StatusBadRequest:
		return 13 // INTERNAL
	case http.StatusUnauthorized:
		return 16 // UNAUTHENTICATED
	case http.StatusForbidden:
		return 7 // PERMISSION_DENIED
	case http.StatusNotFound:
		return 12 // UNIMPLEMENTED
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return 14 // UNAVAILABLE
	}
	return 2 // UNKNOWN
}

// percentEncode encodes a grpc-message value as gRPC requires: bytes
// outside printable ASCII, and '%'.
func percentEncode(b []byte) string {
	const hex = "0123456789ABCDEF"
	var s strings.Builder
	for _, c := range b {
		if c < 0x20 || c > 0x7e || c == '%' {
			s.WriteByte('%')
			s.WriteByte(hex[c>>4])
			s.WriteByte(hex[c&15])
			continue
		}
		s.WriteByte(c)
	}
	return s.String()
}
