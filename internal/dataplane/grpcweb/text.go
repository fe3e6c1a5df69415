package grpcweb

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"sync/atomic"
)

// ErrBadBase64 is the error of a -text body that is not base64.
var ErrBadBase64 = errors.New("grpc-web: invalid base64 data")

// base64Std is standard base64 with mandatory, canonical padding, as
// gRPC-Web clients produce it.
var base64Std = base64.StdEncoding.Strict()

// TextDecoder decodes an application/grpc-web-text stream. The stream is
// base64, possibly in several chunks each with its own padding (a client
// pads whenever it flushes), so "=" may end any 4-byte group. Input may
// be fed in pieces of any size; up to 3 bytes wait for the next piece.
type TextDecoder struct {
	rest [4]byte
	n    int
}

// Decode appends to dst the bytes decoded from every complete 4-byte
// group of the input seen so far.
func (d *TextDecoder) Decode(dst, src []byte) ([]byte, error) {
	if d.n > 0 {
		k := copy(d.rest[d.n:], src)
		d.n += k
		src = src[k:]
		if d.n < 4 {
			return dst, nil
		}
		var err error
		if dst, err = decodeGroups(dst, d.rest[:]); err != nil {
			return dst, err
		}
		d.n = 0
	}
	whole := len(src) / 4 * 4
	d.n = copy(d.rest[:], src[whole:])
	return decodeGroups(dst, src[:whole])
}

// Close reports whether the stream ended on a group boundary: base64
// padding is mandatory in gRPC-Web, as Envoy requires.
func (d *TextDecoder) Close() error {
	if d.n != 0 {
		return ErrBadBase64
	}
	return nil
}

// decodeGroups decodes whole 4-byte groups, each run of them ending at a
// padded group or at the end.
func decodeGroups(dst, src []byte) ([]byte, error) {
	// The standard decoder skips CR and LF, which would shift the group
	// boundaries this decoder relies on; gRPC-Web text has none.
	if bytes.IndexByte(src, '\r') >= 0 || bytes.IndexByte(src, '\n') >= 0 {
		return dst, ErrBadBase64
	}
	for len(src) > 0 {
		end := len(src)
		if i := bytes.IndexByte(src, '='); i >= 0 {
			end = (i/4 + 1) * 4
		}
		var err error
		if dst, err = base64Std.AppendDecode(dst, src[:end]); err != nil {
			return dst, ErrBadBase64
		}
		src = src[end:]
	}
	return dst, nil
}

// textBody is a -text request body, decoded as the upstream reads it.
// bad is atomic: the transport may read the body on its own goroutine
// while the handler returns.
type textBody struct {
	src io.ReadCloser
	// abort ends the request when the body turns out not to be base64.
	abort context.CancelCauseFunc
	dec   TextDecoder
	out   []byte // decoded, not yet read
	in    []byte // read buffer
	err   error
	bad   atomic.Bool
	done  bool
}

func (b *textBody) Read(p []byte) (int, error) {
	for len(b.out) == 0 {
		if b.err != nil {
			return 0, b.err
		}
		if b.in == nil {
			// A request is one message, usually small.
			b.in = make([]byte, 4<<10)
		}
		n, err := b.src.Read(b.in)
		var derr error
		b.out, derr = b.dec.Decode(b.out[:0], b.in[:n])
		if derr == nil && err == io.EOF {
			derr = b.dec.Close()
		}
		switch {
		case derr != nil:
			b.out = b.out[:0]
			b.err = derr
			b.bad.Store(true)
			// Before the error reaches the transport, so the request's
			// context already says why when the failure is classified.
			b.abort(derr)
		case err != nil:
			b.err = err
		}
	}
	n := copy(p, b.out)
	b.out = b.out[n:]
	return n, nil
}

func (b *textBody) Close() error { return b.src.Close() }

// textEncoder turns a binary gRPC-Web response body into the -text form:
// every complete frame is base64-encoded on its own, so a client can
// decode each as it arrives. A partial frame waits for its remainder.
type textEncoder struct {
	pending []byte
}

// encode appends to dst the base64 of every frame completed by src.
func (e *textEncoder) encode(dst, src []byte) []byte {
	e.pending = append(e.pending, src...)
	rest := e.pending
	for {
		_, _, after, ok := SplitFrame(rest)
		if !ok {
			break
		}
		dst = base64.StdEncoding.AppendEncode(dst, rest[:len(rest)-len(after)])
		rest = after
	}
	e.pending = append(e.pending[:0], rest...)
	return dst
}
