package grpcweb

import (
	"encoding/binary"
	"errors"
	"net/http"
	"slices"
	"strings"
)

// A gRPC-Web body is a sequence of frames: one flag byte, a 4-byte
// big-endian payload length, the payload. The most significant bit of the
// flag marks the trailer frame, which ends the body.
const (
	frameHeaderLen = 5
	// FlagTrailer marks an uncompressed trailer frame.
	FlagTrailer byte = 0x80
	// FlagCompressed marks a compressed payload.
	FlagCompressed byte = 0x01
)

// SplitFrame returns the first frame of b when b holds all of it, and the
// bytes after it.
func SplitFrame(b []byte) (flags byte, payload, rest []byte, ok bool) {
	if len(b) < frameHeaderLen {
		return 0, nil, b, false
	}
	n := binary.BigEndian.Uint32(b[1:frameHeaderLen])
	if uint64(len(b)-frameHeaderLen) < uint64(n) {
		return 0, nil, b, false
	}
	end := frameHeaderLen + int(n)
	return b[0], b[frameHeaderLen:end], b[end:], true
}

// AppendFrame appends a frame with the given flags and payload.
func AppendFrame(dst []byte, flags byte, payload []byte) []byte {
	dst = append(dst, flags)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	return append(dst, payload...)
}

// AppendTrailerFrame appends the trailer frame for trailers: one
// "name:value\r\n" line per value, names in lower case (gRPC-Web uses
// lower-case names, as HTTP/2 does), sorted so the frame is
// deterministic.
func AppendTrailerFrame(dst []byte, trailers http.Header) []byte {
	keys := make([]string, 0, len(trailers))
	for k := range trailers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var block []byte
	for _, k := range keys {
		name := strings.ToLower(k)
		for _, v := range trailers[k] {
			block = append(block, name...)
			block = append(block, ':')
			block = append(block, v...)
			block = append(block, '\r', '\n')
		}
	}
	return AppendFrame(dst, FlagTrailer, block)
}

// ErrMalformedTrailers is the error of a trailer block line without a
// name and colon.
var ErrMalformedTrailers = errors.New("grpc-web: malformed trailer line")

// ParseTrailers reads the payload of a trailer frame, an HTTP/1 header
// block without its terminating empty line. Optional whitespace around a
// value is dropped; a line may end in CRLF or LF, the last one in
// neither. It is the client's half of AppendTrailerFrame.
func ParseTrailers(payload []byte) (http.Header, error) {
	h := http.Header{}
	for s := string(payload); s != ""; {
		line, after, _ := strings.Cut(s, "\n")
		s = after
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || !isToken(name) {
			return nil, ErrMalformedTrailers
		}
		h.Add(name, strings.Trim(value, " \t"))
	}
	return h, nil
}

// isToken reports whether s is an HTTP field name (RFC 9110 token).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
