package h1

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
)

// ErrHeaderTooLarge is returned for a response head over the limit.
var ErrHeaderTooLarge = errors.New("h1: response header too large")

// readHead reads a response head (status line through the empty line)
// and returns it as one string: every header key and value of the
// response is a substring of it, so the head costs one allocation
// however many fields it has.
func readHead(br *bufio.Reader, limit int, scratch *[]byte) (string, error) {
	acc := (*scratch)[:0]
	defer func() { *scratch = acc[:0] }()
	partial := false
	for {
		line, err := br.ReadSlice('\n')
		if len(acc)+len(line) > limit {
			return "", ErrHeaderTooLarge
		}
		acc = append(acc, line...)
		if err == bufio.ErrBufferFull {
			// The rest of a line longer than the reader's buffer follows.
			partial = true
			continue
		}
		if err != nil {
			return "", fmt.Errorf("h1: reading response head: %w", unexpectedEOF(err))
		}
		whole := !partial
		partial = false
		if whole && len(acc) > len(line) && (len(line) == 1 || (len(line) == 2 && line[0] == '\r')) {
			return string(acc), nil
		}
	}
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// response is a response with the storage its reading needs: the body
// and the header values of a short head live in the same allocation.
type response struct {
	http.Response
	body body
	vals [8]string
}

// readResponse reads one response head from br and returns the response,
// Body unset.
func readResponse(br *bufio.Reader, req *http.Request, limit int, scratch *[]byte) (*response, error) {
	head, err := readHead(br, limit, scratch)
	if err != nil {
		return nil, err
	}
	return parseHead(head, req)
}

// parseHead parses a response head as readHead returns it.
func parseHead(head string, req *http.Request) (*response, error) {
	line, rest := nextLine(head)
	r := &response{}
	resp := &r.Response
	resp.Request = req
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || line[8] != ' ' {
		return nil, fmt.Errorf("h1: malformed status line %q", line)
	}
	resp.Proto = line[:8]
	switch resp.Proto {
	case "HTTP/1.1":
		resp.ProtoMajor, resp.ProtoMinor = 1, 1
	case "HTTP/1.0":
		resp.ProtoMajor, resp.ProtoMinor = 1, 0
	default:
		return nil, fmt.Errorf("h1: unsupported protocol in status line %q", line)
	}
	code := line[9:12]
	if code[0] < '1' || code[0] > '9' || code[1] < '0' || code[1] > '9' || code[2] < '0' || code[2] > '9' {
		return nil, fmt.Errorf("h1: malformed status code in %q", line)
	}
	if len(line) > 12 && line[12] != ' ' {
		return nil, fmt.Errorf("h1: malformed status line %q", line)
	}
	resp.StatusCode = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	resp.Status = line[9:]

	// Count the fields first, so the map and the value slices are
	// allocated once at their final size.
	n := strings.Count(rest, "\n")
	h := make(http.Header, n)
	vals := r.vals[:0]
	if n > len(r.vals) {
		vals = make([]string, 0, n)
	}
	for {
		line, rest = nextLine(rest)
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return nil, fmt.Errorf("h1: obsolete line folding in response header %q", line)
		}
		i := strings.IndexByte(line, ':')
		if i <= 0 {
			return nil, fmt.Errorf("h1: malformed response header line %q", line)
		}
		key := line[:i]
		if !validToken(key) {
			return nil, fmt.Errorf("h1: invalid response header field name %q", key)
		}
		value := strings.Trim(line[i+1:], " \t")
		if !validHeaderValue(value) {
			return nil, fmt.Errorf("h1: invalid value in response header %q", key)
		}
		key = textproto.CanonicalMIMEHeaderKey(key)
		vals = append(vals, value)
		if old, ok := h[key]; ok {
			h[key] = append(old, value)
		} else {
			// A slice of the shared backing array; cap 1 so an append
			// for a repeated key copies rather than overwrites.
			h[key] = vals[len(vals)-1 : len(vals) : len(vals)]
		}
	}
	resp.Header = h
	return r, nil
}

// nextLine splits the first line (without its CRLF or LF) off s.
func nextLine(s string) (line, rest string) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return s, ""
	}
	line, rest = s[:i], s[i+1:]
	if strings.HasSuffix(line, "\r") {
		line = line[:len(line)-1]
	}
	return line, rest
}

// bodyMode says how a response body is delimited.
type bodyMode uint8

const (
	noBody bodyMode = iota
	contentLength
	chunkedBody
	untilClose
)

// frameBody decides how the body of resp is delimited (RFC 9112 §6.3)
// and sets ContentLength, TransferEncoding and the declared Trailer keys
// as net/http does.
func frameBody(resp *http.Response, req *http.Request) (bodyMode, int64, error) {
	h := resp.Header
	code := resp.StatusCode
	te, hasTE := h["Transfer-Encoding"]
	cl, hasCL := h["Content-Length"]
	var length int64 = -1
	if hasCL {
		for i, v := range cl {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 || v[0] == '+' {
				return 0, 0, fmt.Errorf("h1: invalid Content-Length %q", v)
			}
			if i > 0 && n != length {
				return 0, 0, fmt.Errorf("h1: conflicting Content-Length values %q", cl)
			}
			length = n
		}
	}
	if req.Method == http.MethodHead || code == http.StatusNoContent || code == http.StatusNotModified || code < 200 {
		if req.Method == http.MethodHead {
			resp.ContentLength = length
		}
		return noBody, 0, nil
	}
	if hasTE {
		if len(te) != 1 || !strings.EqualFold(strings.TrimSpace(te[0]), "chunked") {
			return 0, 0, fmt.Errorf("h1: unsupported Transfer-Encoding %q", te)
		}
		// Chunked framing wins over a Content-Length (RFC 9112 §6.3).
		delete(h, "Content-Length")
		delete(h, "Transfer-Encoding")
		resp.TransferEncoding = []string{"chunked"}
		resp.ContentLength = -1
		if tr, ok := h["Trailer"]; ok {
			resp.Trailer = make(http.Header)
			for _, v := range tr {
				for _, k := range strings.Split(v, ",") {
					if k = strings.TrimSpace(k); k != "" {
						resp.Trailer[textproto.CanonicalMIMEHeaderKey(k)] = nil
					}
				}
			}
			delete(h, "Trailer")
		}
		return chunkedBody, 0, nil
	}
	resp.ContentLength = length
	switch {
	case length == 0:
		return noBody, 0, nil
	case length > 0:
		return contentLength, length, nil
	}
	return untilClose, 0, nil
}

// keepAlive reports whether the server lets the connection be reused
// after resp.
func keepAlive(resp *http.Response) bool {
	conn := resp.Header["Connection"]
	if hasToken(conn, "close") {
		return false
	}
	if resp.ProtoMinor == 0 {
		return hasToken(conn, "keep-alive")
	}
	return true
}

// hasToken reports whether a comma-separated header value list holds
// token, case-insensitively.
func hasToken(vs []string, token string) bool {
	for _, v := range vs {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
