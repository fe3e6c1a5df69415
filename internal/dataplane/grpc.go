package dataplane

import (
	"net/http"
	"strconv"
	"strings"
)

// isGRPC reports whether r is a gRPC request (content-type
// application/grpc, with or without a subtype).
func isGRPC(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	return ct == "application/grpc" || strings.HasPrefix(ct, "application/grpc+") ||
		strings.HasPrefix(ct, "application/grpc;")
}

// gRPC status codes the gateway produces or reads.
const (
	grpcUnknown          = 2
	grpcPermissionDenied = 7
	grpcUnimplemented    = 12
	grpcInternal         = 13
	grpcUnavailable      = 14
	grpcUnauthenticated  = 16
)

// grpcCodes names the gRPC status codes as Istio's fault.abort.grpcStatus
// spells them.
var grpcCodes = map[string]int{
	"OK": 0, "CANCELLED": 1, "UNKNOWN": 2, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4,
	"NOT_FOUND": 5, "ALREADY_EXISTS": 6, "PERMISSION_DENIED": 7, "RESOURCE_EXHAUSTED": 8,
	"FAILED_PRECONDITION": 9, "ABORTED": 10, "OUT_OF_RANGE": 11, "UNIMPLEMENTED": 12,
	"INTERNAL": 13, "UNAVAILABLE": 14, "DATA_LOSS": 15, "UNAUTHENTICATED": 16,
}

// grpcCode parses a status name or number; unknown names are UNKNOWN.
func grpcCode(s string) int {
	if c, ok := grpcCodes[strings.ToUpper(strings.TrimSpace(s))]; ok {
		return c
	}
	if c, err := strconv.Atoi(s); err == nil && c >= 0 {
		return c
	}
	return grpcUnknown
}

// grpcStatusFromHTTP maps the status of a local reply to the gRPC status
// a gRPC client gets instead, per gRPC's HTTP-to-gRPC status mapping,
// which Envoy applies to its local replies.
func grpcStatusFromHTTP(code int) int {
	switch code {
	case http.StatusBadRequest:
		return grpcInternal
	case http.StatusUnauthorized:
		return grpcUnauthenticated
	case http.StatusForbidden:
		return grpcPermissionDenied
	case http.StatusNotFound:
		return grpcUnimplemented
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return grpcUnavailable
	}
	return grpcUnknown
}

// writeGRPCStatus answers trailers-only: HTTP 200 whose headers carry the
// gRPC status, with no body.
// grpcDeadlineExceeded is gRPC's DEADLINE_EXCEEDED status code.
const grpcDeadlineExceeded = 4

func writeGRPCStatus(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/grpc")
	h.Set("Grpc-Status", strconv.Itoa(code))
	if msg != "" {
		h.Set("Grpc-Message", grpcEncodeMessage(msg))
	}
	w.WriteHeader(http.StatusOK)
}

// grpcEncodeMessage percent-encodes a grpc-message value as the gRPC
// protocol requires: bytes outside printable ASCII, and '%'.
func grpcEncodeMessage(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '%' {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
