package h1

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Headers the request head carries from the request's fields rather than
// its header map, as net/http writes them.
func skipHeader(k string) bool {
	switch k {
	case "Host", "Content-Length", "Transfer-Encoding", "Trailer":
		return true
	}
	return false
}

// writeHead writes the request line and header fields of req. It writes
// straight from req.Header: no copy of the map is made.
func writeHead(bw *bufio.Writer, req *http.Request, closeConn, chunked bool) error {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if !validHeaderValue(host) || strings.ContainsAny(host, " \t") {
		return fmt.Errorf("h1: invalid Host %q", host)
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	if !validToken(method) {
		return fmt.Errorf("h1: invalid method %q", method)
	}
	bw.WriteString(method)
	bw.WriteByte(' ')
	if err := writeTarget(bw, req); err != nil {
		return err
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")
	for k, vs := range req.Header {
		if skipHeader(k) {
			continue
		}
		if !validToken(k) {
			return fmt.Errorf("h1: invalid header field name %q", k)
		}
		for _, v := range vs {
			bw.WriteString(k)
			bw.WriteString(": ")
			writeValue(bw, v)
			bw.WriteString("\r\n")
		}
	}
	if closeConn && !hasToken(req.Header["Connection"], "close") {
		bw.WriteString("Connection: close\r\n")
	}
	hasBody := req.Body != nil && req.Body != http.NoBody
	switch {
	case chunked:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
		if len(req.Trailer) > 0 {
			bw.WriteString("Trailer: ")
			first := true
			for k := range req.Trailer {
				if !validToken(k) {
					return fmt.Errorf("h1: invalid trailer field name %q", k)
				}
				if !first {
					bw.WriteByte(',')
				}
				first = false
				bw.WriteString(k)
			}
			bw.WriteString("\r\n")
		}
	case hasBody:
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(bw.AvailableBuffer(), req.ContentLength, 10))
		bw.WriteString("\r\n")
	case method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch:
		// An empty body is announced, so the server does not wait for one.
		bw.WriteString("Content-Length: 0\r\n")
	}
	_, err := bw.WriteString("\r\n")
	return err
}

// writeTarget writes the request target in origin form without building
// the string first.
func writeTarget(bw *bufio.Writer, req *http.Request) error {
	u := req.URL
	if u.Opaque != "" {
		bw.WriteString(u.RequestURI())
		return nil
	}
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	if !validTarget(p) || !validTarget(u.RawQuery) {
		return fmt.Errorf("h1: invalid request target %q", p)
	}
	bw.WriteString(p)
	if u.ForceQuery || u.RawQuery != "" {
		bw.WriteByte('?')
		bw.WriteString(u.RawQuery)
	}
	return nil
}

// writeValue writes a header value with line breaks turned into spaces,
// as net/http does, so a value can never start a header of its own.
func writeValue(bw *bufio.Writer, v string) {
	if strings.IndexByte(v, '\n') < 0 && strings.IndexByte(v, '\r') < 0 {
		bw.WriteString(v)
		return
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		bw.WriteByte(c)
	}
}

// bufPool holds the buffers chunked request bodies are copied through.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

var errBodyLength = errors.New("h1: request body shorter than its Content-Length")

// writeBody writes req's body (content-length or chunked framing) and
// closes it.
func writeBody(bw *bufio.Writer, req *http.Request, chunked bool) error {
	defer req.Body.Close()
	if !chunked {
		// Read straight into the writer's free space: no copy buffer.
		remaining := req.ContentLength
		for remaining > 0 {
			if bw.Available() == 0 {
				if err := bw.Flush(); err != nil {
					return err
				}
			}
			p := bw.AvailableBuffer()
			p = p[:min(int64(cap(p)), remaining)]
			n, err := req.Body.Read(p)
			if n > 0 {
				bw.Write(p[:n])
				remaining -= int64(n)
			}
			if err == io.EOF {
				if remaining > 0 {
					return errBodyLength
				}
				break
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		n, err := req.Body.Read(buf)
		if n > 0 {
			bw.Write(strconv.AppendInt(bw.AvailableBuffer(), int64(n), 16))
			bw.WriteString("\r\n")
			bw.Write(buf[:n])
			bw.WriteString("\r\n")
			// A streaming body reaches the server as it is produced.
			if ferr := bw.Flush(); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	bw.WriteString("0\r\n")
	for k, vs := range req.Trailer {
		for _, v := range vs {
			bw.WriteString(k)
			bw.WriteString(": ")
			writeValue(bw, v)
			bw.WriteString("\r\n")
		}
	}
	_, err := bw.WriteString("\r\n")
	return err
}

// validToken reports whether s is an RFC 9110 token (method, field name).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenByte(s[i]) {
			return false
		}
	}
	return true
}

func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// validHeaderValue reports whether s holds no control byte but tab.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// validTarget reports whether s may appear in a request line.
func validTarget(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}
