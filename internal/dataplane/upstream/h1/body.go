package h1

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"strings"
)

// maxChunkLine bounds a chunk-size line (size and extensions).
const maxChunkLine = 4096

var errBodyClosed = errors.New("h1: read on closed response body")

// body is a response body read from its connection. When it reaches its
// end the connection goes back to the pool (if both sides allow), before
// Close is called, as net/http does; closing it earlier closes the
// connection, since the unread rest would have to be drained first.
// Read and Close must not be called concurrently.
type body struct {
	cl   *Client
	c    *conn
	stop func() bool // ends the context watch; nil without one
	keep bool
	mode bodyMode
	// remaining is what is left of the content-length body or of the
	// current chunk.
	remaining int64
	// inChunk is set while a chunk's data is being read.
	inChunk bool
	resp    *http.Response
	err     error // sticky: io.EOF once complete
}

func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var err error
	switch b.mode {
	case contentLength:
		n, err = b.readLength(p)
	case chunkedBody:
		n, err = b.readChunked(p)
	default:
		n, err = b.c.br.Read(p)
		if err == io.EOF {
			// The server ends this body by closing the connection.
			b.finish(io.EOF, false)
			return n, io.EOF
		}
	}
	if err != nil && err != io.EOF {
		b.fail(err)
	}
	return n, err
}

func (b *body) readLength(p []byte) (int, error) {
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.c.br.Read(p)
	b.remaining -= int64(n)
	if b.remaining == 0 {
		b.finish(io.EOF, b.keep)
		return n, io.EOF
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (b *body) readChunked(p []byte) (int, error) {
	br := b.c.br
	if !b.inChunk {
		size, err := readChunkSize(br)
		if err != nil {
			return 0, err
		}
		if size == 0 {
			if err := readTrailer(br, b.resp); err != nil {
				return 0, err
			}
			b.finish(io.EOF, b.keep)
			return 0, io.EOF
		}
		b.remaining, b.inChunk = size, true
	}
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := br.Read(p)
	b.remaining -= int64(n)
	if b.remaining == 0 {
		b.inChunk = false
		if err2 := expectCRLF(br); err2 != nil {
			return n, err2
		}
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// readChunkSize reads a chunk-size line: hex digits, optional
// extensions (ignored), CRLF.
func readChunkSize(br *bufio.Reader) (int64, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull || len(line) > maxChunkLine {
		return 0, errors.New("h1: chunk size line too long")
	}
	if err != nil {
		return 0, unexpectedEOF(err)
	}
	line = line[:len(line)-1]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	if i := indexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	for len(line) > 0 && (line[len(line)-1] == ' ' || line[len(line)-1] == '\t') {
		line = line[:len(line)-1]
	}
	if len(line) == 0 || len(line) > 16 {
		return 0, fmt.Errorf("h1: malformed chunk size %q", line)
	}
	var n int64
	for _, c := range line {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, fmt.Errorf("h1: malformed chunk size %q", line)
		}
		n = n<<4 | int64(d)
	}
	if n < 0 {
		return 0, fmt.Errorf("h1: chunk size %q out of range", line)
	}
	return n, nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// expectCRLF reads the line end that follows a chunk's data.
func expectCRLF(br *bufio.Reader) error {
	c, err := br.ReadByte()
	if err == nil && c == '\r' {
		c, err = br.ReadByte()
	}
	if err != nil {
		return unexpectedEOF(err)
	}
	if c != '\n' {
		return errors.New("h1: malformed chunked encoding: missing CRLF after chunk data")
	}
	return nil
}

// readTrailer reads the trailer section after the last chunk into
// resp.Trailer, creating it for trailers the response did not declare,
// as net/http does.
func readTrailer(br *bufio.Reader, resp *http.Response) error {
	total := 0
	for {
		line, err := br.ReadSlice('\n')
		total += len(line)
		if err == bufio.ErrBufferFull || total > 64<<10 {
			return errors.New("h1: trailer section too large")
		}
		if err != nil {
			return unexpectedEOF(err)
		}
		s := strings.TrimRight(string(line), "\r\n")
		if s == "" {
			return nil
		}
		k, v, ok := strings.Cut(s, ":")
		if !ok || !validToken(k) {
			return fmt.Errorf("h1: malformed trailer line %q", s)
		}
		v = strings.Trim(v, " \t")
		if resp.Trailer == nil {
			resp.Trailer = make(http.Header)
		}
		k = textproto.CanonicalMIMEHeaderKey(k)
		resp.Trailer[k] = append(resp.Trailer[k], v)
	}
}

// finish ends the body with err (io.EOF when complete) and releases the
// connection: back to the pool when reuse is allowed.
func (b *body) finish(err error, reuse bool) {
	b.err = err
	b.release(reuse)
}

// fail ends the body after a read error; the connection is closed.
func (b *body) fail(err error) {
	b.finish(err, false)
}

// release gives the connection back (reuse) or closes it, once.
func (b *body) release(reuse bool) {
	c := b.c
	if c == nil {
		return
	}
	b.c = nil
	if b.stop != nil && !b.stop() {
		// The context fired and poisoned the connection's deadline.
		reuse = false
	}
	if reuse {
		b.cl.put(c)
	} else {
		c.close()
	}
}

// WriteTo copies the rest of the body to w. A content-length body's bytes
// not yet buffered are copied from the connection itself, so a writer
// that can (a *net.TCPConn under an http.ResponseWriter) splices them
// between the sockets in the kernel.
func (b *body) WriteTo(w io.Writer) (int64, error) {
	if b.err != nil {
		if b.err == io.EOF {
			return 0, nil
		}
		return 0, b.err
	}
	if b.mode != contentLength {
		bp := bufPool.Get().(*[]byte)
		defer bufPool.Put(bp)
		return io.CopyBuffer(w, onlyReader{b}, *bp)
	}
	var written int64
	// What the reader already holds goes first.
	if n := min(int64(b.c.br.Buffered()), b.remaining); n > 0 {
		p, _ := b.c.br.Peek(int(n))
		m, err := w.Write(p)
		_, _ = b.c.br.Discard(m)
		written += int64(m)
		b.remaining -= int64(m)
		if err != nil {
			b.fail(err)
			return written, err
		}
	}
	if b.remaining > 0 {
		n, err := io.CopyN(w, b.c.nc, b.remaining)
		written += n
		b.remaining -= n
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			b.fail(err)
			return written, err
		}
	}
	b.finish(io.EOF, b.keep)
	return written, nil
}

// onlyReader hides every method but Read, so io.CopyBuffer uses its
// buffer rather than calling back into WriteTo.
type onlyReader struct{ io.Reader }

func (b *body) Close() error {
	if b.err == nil {
		b.err = errBodyClosed
	}
	b.release(false)
	return nil
}

// upgradeBody is the body of a 101 response: the connection itself,
// which the caller relays in both directions and closes.
type upgradeBody struct {
	c *conn
}

func (u *upgradeBody) Read(p []byte) (int, error)  { return u.c.br.Read(p) }
func (u *upgradeBody) Write(p []byte) (int, error) { return u.c.nc.Write(p) }

func (u *upgradeBody) Close() error {
	// The buffered reader may hold bytes still to be read by a racing
	// Read; it is not recycled.
	return u.c.nc.Close()
}
