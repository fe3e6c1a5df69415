package dataplane

import (
	"errors"
	"io"
	"sync"
)

// DefaultRetryBufferLimit is how much of a request body the gateway keeps
// so that a retry, or a mirror, can send it again (Options.RetryBufferLimit
// overrides it). A longer body is streamed once and its request is
// neither retried nor mirrored, as Envoy does past its buffer limit.
const DefaultRetryBufferLimit = 64 << 10

// errBodyReplaced fails the body reads of an attempt that a retry has
// replaced: the transport may still be writing the old attempt's body
// after its response was judged, and must not take bytes from the new one.
var errBodyReplaced = errors.New("request body taken over by a retry")

// requestBody lets the attempts of one request share the downstream body.
// The body streams upstream as the client sends it (a gRPC stream would
// stall if the gateway waited for the end first) while a copy is kept up
// to the limit. Each attempt reads through its own reader: a new one
// replays the copy, then continues with the client's bytes not yet read.
// Once more than the limit has been read the copy is dropped and the body
// can no longer be replayed.
type requestBody struct {
	// readMu serialises reads from src, so bytes are recorded in order
	// even when a replaced attempt's read is still blocked on the client.
	readMu sync.Mutex

	mu    sync.Mutex
	src   io.Reader
	limit int
	buf   []byte // the body so far, while it fits; bytes not yet consumed once over
	pos   int    // the current reader's position in buf
	gen   uint64 // the current reader's generation
	over  bool   // more than limit was read: no replay
	done  bool   // src has returned an error (io.EOF at the end)
	err   error
	// complete is called once, with the whole body, when src ends within
	// the limit: the moment a mirror of the request can be sent.
	complete func([]byte)
}

func newRequestBody(src io.Reader, limit int) *requestBody {
	return &requestBody{src: src, limit: limit}
}

// replayable reports whether a new attempt can still send the whole body.
func (b *requestBody) replayable() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.over
}

// reader returns the body for a new attempt and retires every earlier
// reader. Call it only while replayable.
func (b *requestBody) reader() io.ReadCloser {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gen++
	b.pos = 0
	return &bodyReader{b: b, gen: b.gen}
}

// getBody is http.Request.GetBody: the transport calls it to resend a
// request on a fresh connection when a reused one turned out to be closed.
func (b *requestBody) getBody() (io.ReadCloser, error) {
	if !b.replayable() {
		return nil, errors.New("request body too large to resend")
	}
	return b.reader(), nil
}

// onComplete registers f to receive the whole body once it has been read
// within the limit; if that has already happened, f runs now.
func (b *requestBody) onComplete(f func([]byte)) {
	b.mu.Lock()
	if b.done && !b.over && errors.Is(b.err, io.EOF) {
		body := b.buf
		b.mu.Unlock()
		f(body)
		return
	}
	b.complete = f
	b.mu.Unlock()
}

type bodyReader struct {
	b   *requestBody
	gen uint64
}

func (r *bodyReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	b := r.b
	b.mu.Lock()
	if n, err, ok := r.fromBuffer(p); ok {
		b.mu.Unlock()
		return n, err
	}
	b.mu.Unlock()

	b.readMu.Lock()
	defer b.readMu.Unlock()
	b.mu.Lock()
	// A replaced reader may have recorded bytes while this one waited.
	if n, err, ok := r.fromBuffer(p); ok {
		b.mu.Unlock()
		return n, err
	}
	b.mu.Unlock()

	n, err := b.src.Read(p)

	b.mu.Lock()
	var complete func([]byte)
	var whole []byte
	if err != nil {
		b.done, b.err = true, err
		if errors.Is(err, io.EOF) && !b.over && b.complete != nil {
			complete, b.complete = b.complete, nil
		}
	}
	if r.gen != b.gen {
		// Replaced while reading: keep the bytes for the current reader.
		b.buf = append(b.buf, p[:n]...)
		if len(b.buf) > b.limit {
			b.over, complete = true, nil
		}
		whole = b.buf
		b.mu.Unlock()
		if complete != nil {
			complete(whole)
		}
		return 0, errBodyReplaced
	}
	if !b.over {
		if len(b.buf)+n > b.limit {
			b.over, b.buf, b.pos = true, nil, 0
			complete = nil
		} else {
			b.buf = append(b.buf, p[:n]...)
			b.pos = len(b.buf)
		}
	}
	whole = b.buf
	b.mu.Unlock()
	if complete != nil {
		complete(whole)
	}
	return n, err
}

// fromBuffer serves a read from recorded bytes, or reports the end of the
// body or the reader's retirement; ok is false when the caller must read
// from the client. b.mu is held.
func (r *bodyReader) fromBuffer(p []byte) (n int, err error, ok bool) {
	b := r.b
	if r.gen != b.gen {
		return 0, errBodyReplaced, true
	}
	if b.pos < len(b.buf) {
		n = copy(p, b.buf[b.pos:])
		b.pos += n
		if b.over && b.pos == len(b.buf) {
			// Past the limit the bytes are kept only until delivered.
			b.buf, b.pos = nil, 0
		}
		return n, nil, true
	}
	if b.done {
		return 0, b.err, true
	}
	return 0, nil, false
}

// Close retires nothing: the downstream body belongs to the server, and a
// later attempt may still need it.
func (r *bodyReader) Close() error { return nil }
