// Package grpcweb bridges gRPC-Web clients (browsers speaking HTTP/1.1 or
// HTTP/2 without trailers) to gRPC backends, as Envoy's grpc_web filter
// does on every HTTP listener of an Istio gateway.
//
// Wrap turns a gRPC-Web request into a gRPC one before the data plane sees
// it, and turns the gRPC response back into gRPC-Web on its way out:
//
//   - Requests whose Content-Type is exactly application/grpc-web,
//     application/grpc-web+proto, application/grpc-web-text or
//     application/grpc-web-text+proto are converted; any other request
//     (including application/grpc-web+json, or a content type with
//     parameters) passes through untouched, as in Envoy.
//   - A converted request gets Content-Type application/grpc, TE: trailers,
//     grpc-accept-encoding identity,deflate,gzip (unless the client sent
//     one) and loses its Content-Length. A -text body is base64 and may
//     arrive in several padded chunks; it is decoded as it streams. One
//     that is not base64 ends the request as the client's failure (the
//     data plane logs DC and holds nothing against the upstream) and is
//     answered as Envoy answers it: 400, grpc-status 13 (INTERNAL).
//     x-grpc-web and x-user-agent are relayed unchanged.
//   - A gRPC response (200 with a gRPC content type, or a trailers-only
//     response carrying grpc-status in its headers) keeps its status and
//     headers, with Content-Type application/grpc-web+proto, or
//     application/grpc-web-text+proto when the request's Accept asked for
//     application/grpc-web-text(+proto). Its trailers become the last
//     frame of the body: flag 0x80, a 4-byte big-endian length, then
//     lower-case "name:value\r\n" lines. A -text response base64-encodes
//     every frame on its own (each padded), so frames are flushed as they
//     arrive and server streaming works.
//   - Any other response (a non-200 status or a non-gRPC content type:
//     local replies, an HTTP/1.1 error page) keeps its status and becomes
//     a gRPC-Web status: grpc-status mapped from the HTTP status as gRPC
//     maps it, grpc-message the percent-encoded body (at most 16 KiB), an
//     empty body. Without a body it only changes its content type, as in
//     Envoy, and the client reads the HTTP status.
//
// gRPC-Web has no client streaming: a request is one message, so the
// request side never needs to be interleaved with the response.
package grpcweb

import (
	"context"
	"net/http"
)

// Content types of the gRPC-Web protocol (grpc/grpc doc/PROTOCOL-WEB.md).
const (
	ContentTypeGRPCWeb          = "application/grpc-web"
	ContentTypeGRPCWebProto     = "application/grpc-web+proto"
	ContentTypeGRPCWebText      = "application/grpc-web-text"
	ContentTypeGRPCWebTextProto = "application/grpc-web-text+proto"
)

// grpcAcceptEncoding is what Envoy announces upstream on behalf of a
// gRPC-Web client that did not say.
const grpcAcceptEncoding = "identity,deflate,gzip"

// badBase64 is the body of Envoy's local reply to a -text request whose
// body is not base64.
const badBase64 = "Bad gRPC-web request, invalid base64 data."

type translatedKey struct{}

// Translated reports whether r reached the handler through Wrap as a
// converted gRPC-Web request. The data plane asks so that its own local
// replies stay plain HTTP, which Wrap then turns into a gRPC-Web status
// as Envoy does (Envoy decides "is this gRPC?" for local replies before
// the grpc_web filter rewrites the content type).
func Translated(r *http.Request) bool {
	v, _ := r.Context().Value(translatedKey{}).(bool)
	return v
}

// IsRequest reports whether r is a gRPC-Web request Wrap would convert.
func IsRequest(r *http.Request) bool {
	return isRequestContentType(r.Header.Get("Content-Type"))
}

// Wrap returns next behind the gRPC-Web bridge.
func Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ct := r.Header.Get("Content-Type")
		if !isRequestContentType(ct) {
			next.ServeHTTP(w, r)
			return
		}
		textRequest := ct == ContentTypeGRPCWebText || ct == ContentTypeGRPCWebTextProto
		accept := r.Header.Get("Accept")
		textResponse := accept == ContentTypeGRPCWebText || accept == ContentTypeGRPCWebTextProto

		h := r.Header
		h.Set("Content-Type", "application/grpc")
		h.Set("Te", "trailers")
		if len(h.Values("Grpc-Accept-Encoding")) == 0 {
			h.Set("Grpc-Accept-Encoding", grpcAcceptEncoding)
		}
		// The length of a -text body changes; Envoy drops it for binary
		// bodies too, so upstream sees the same request either way.
		h.Del("Content-Length")
		if r.ContentLength != 0 {
			r.ContentLength = -1
		}
		ctx := context.WithValue(r.Context(), translatedKey{}, true)
		var body *textBody
		if textRequest && r.Body != nil && r.Body != http.NoBody {
			// A body that is not base64 is the client's fault: it ends the
			// request as a client that went away does, so the data plane
			// neither answers nor holds it against the upstream (no
			// retry, no outlier-detection failure); the 400 comes from
			// here, as Envoy's filter answers it.
			var cancel context.CancelCauseFunc
			ctx, cancel = context.WithCancelCause(ctx)
			defer cancel(nil)
			body = &textBody{src: r.Body, abort: cancel}
			r.Body = body
		}
		r = r.WithContext(ctx)

		rw := newResponseWriter(w, textResponse)
		next.ServeHTTP(rw, r)
		if body != nil && body.bad.Load() {
			rw.rejectBody()
		}
		rw.finish()
	})
}

func isRequestContentType(ct string) bool {
	switch ct {
	case ContentTypeGRPCWeb, ContentTypeGRPCWebProto, ContentTypeGRPCWebText, ContentTypeGRPCWebTextProto:
		return true
	}
	return false
}
