package tcpproxy

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// ClientHello is what a gateway needs from a TLS ClientHello to route the
// connection without terminating TLS.
type ClientHello struct {
	// ServerName is the SNI host name, lower-case and without a trailing
	// dot; empty when the client sent none.
	ServerName string
	// ALPN lists the application protocols the client offers, in its
	// order; nil when it offers none.
	ALPN []string
}

// ErrNotTLS says that a connection does not start with a TLS handshake
// record carrying a ClientHello.
var ErrNotTLS = errors.New("not a TLS ClientHello")

// TLS wire constants (RFC 8446 §5.1, §4).
const (
	recordHeaderLen          = 5
	recordTypeHandshake      = 22
	handshakeHeaderLen       = 4
	handshakeTypeClientHello = 1
	// maxPlaintextRecord is the largest record fragment a peer may send
	// before encryption is on, which a ClientHello always is.
	maxPlaintextRecord = 1 << 14
	// maxClientHello bounds the ClientHello we are willing to buffer.
	// Real ones are a few hundred bytes to a few kilobytes (post-quantum
	// key shares included); crypto/tls accepts up to 64 KiB.
	maxClientHello = 1 << 16

	extensionServerName = 0
	extensionALPN       = 16
	sniHostName         = 0
)

// ReadClientHello reads a ClientHello from r, reassembling it if the
// client split it over several records. It returns the hello and every
// byte it read, which the caller replays to whoever handles the
// connection next (crypto/tls, or the upstream when passing through). On
// error the bytes read so far are returned too.
func ReadClientHello(r io.Reader) (*ClientHello, []byte, error) {
	var raw, msg []byte
	for {
		start := len(raw)
		raw = append(raw, make([]byte, recordHeaderLen)...)
		if n, err := io.ReadFull(r, raw[start:]); err != nil {
			return nil, raw[:start+n], err
		}
		hdr := raw[start:]
		if hdr[0] != recordTypeHandshake || hdr[1] != 3 {
			return nil, raw, ErrNotTLS
		}
		n := int(hdr[3])<<8 | int(hdr[4])
		if n == 0 || n > maxPlaintextRecord {
			return nil, raw, fmt.Errorf("%w: record length %d", ErrNotTLS, n)
		}
		start = len(raw)
		raw = append(raw, make([]byte, n)...)
		if got, err := io.ReadFull(r, raw[start:]); err != nil {
			return nil, raw[:start+got], err
		}
		msg = append(msg, raw[start:]...)
		if len(msg) < handshakeHeaderLen {
			continue
		}
		if msg[0] != handshakeTypeClientHello {
			return nil, raw, fmt.Errorf("%w: handshake message type %d", ErrNotTLS, msg[0])
		}
		need := handshakeHeaderLen + (int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3]))
		if need > maxClientHello {
			return nil, raw, fmt.Errorf("ClientHello of %d bytes is too large", need)
		}
		if len(msg) >= need {
			hello, err := ParseClientHello(msg[handshakeHeaderLen:need])
			return hello, raw, err
		}
	}
}

// reader walks a byte slice, failing once anything is out of bounds.
type reader struct {
	b  []byte
	ok bool
}

func (r *reader) bytes(n int) []byte {
	if !r.ok || n < 0 || n > len(r.b) {
		r.ok = false
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u8() int {
	b := r.bytes(1)
	if b == nil {
		return 0
	}
	return int(b[0])
}

func (r *reader) u16() int {
	b := r.bytes(2)
	if b == nil {
		return 0
	}
	return int(b[0])<<8 | int(b[1])
}

// vec reads a vector with a length prefix of size bytes (1 or 2).
func (r *reader) vec(size int) *reader {
	n := r.u8()
	if size == 2 {
		n = n<<8 | r.u8()
	}
	b := r.bytes(n)
	return &reader{b: b, ok: r.ok}
}

var errMalformed = errors.New("malformed ClientHello")

// ParseClientHello parses the body of a ClientHello handshake message
// (after its 4-byte header): legacy version, random, session id, cipher
// suites, compression methods and extensions. Only server_name and ALPN
// are interpreted; the structure around them must be well formed.
func ParseClientHello(body []byte) (*ClientHello, error) {
	r := &reader{b: body, ok: true}
	r.bytes(2)  // legacy_version
	r.bytes(32) // random
	if sid := r.vec(1); len(sid.b) > 32 {
		return nil, errMalformed
	}
	if cs := r.vec(2); len(cs.b) < 2 || len(cs.b)%2 != 0 {
		return nil, errMalformed
	}
	if cm := r.vec(1); len(cm.b) < 1 {
		return nil, errMalformed
	}
	if !r.ok {
		return nil, errMalformed
	}
	hello := &ClientHello{}
	if len(r.b) == 0 {
		return hello, nil // no extensions at all
	}
	exts := r.vec(2)
	if !r.ok || len(r.b) != 0 {
		return nil, errMalformed
	}
	seen := map[int]bool{}
	for len(exts.b) > 0 {
		typ := exts.u16()
		data := exts.vec(2)
		if !exts.ok {
			return nil, errMalformed
		}
		if seen[typ] {
			return nil, fmt.Errorf("%w: extension %d repeated", errMalformed, typ)
		}
		seen[typ] = true
		var err error
		switch typ {
		case extensionServerName:
			hello.ServerName, err = parseServerName(data)
		case extensionALPN:
			hello.ALPN, err = parseALPN(data)
		}
		if err != nil {
			return nil, err
		}
	}
	return hello, nil
}

// parseServerName reads the server_name extension (RFC 6066 §3): a list
// of which only the host_name entry is meaningful, and at most one.
func parseServerName(data *reader) (string, error) {
	list := data.vec(2)
	if !data.ok || len(data.b) != 0 || len(list.b) == 0 {
		return "", errMalformed
	}
	name := ""
	for len(list.b) > 0 {
		typ := list.u8()
		v := list.vec(2)
		if !list.ok || len(v.b) == 0 {
			return "", errMalformed
		}
		if typ != sniHostName {
			continue
		}
		if name != "" {
			return "", fmt.Errorf("%w: two host names", errMalformed)
		}
		name = string(v.b)
	}
	return strings.ToLower(strings.TrimSuffix(name, ".")), nil
}

// parseALPN reads the application_layer_protocol_negotiation extension
// (RFC 7301 §3.1).
func parseALPN(data *reader) ([]string, error) {
	list := data.vec(2)
	if !data.ok || len(data.b) != 0 || len(list.b) == 0 {
		return nil, errMalformed
	}
	var out []string
	for len(list.b) > 0 {
		p := list.vec(1)
		if !list.ok || len(p.b) == 0 {
			return nil, errMalformed
		}
		out = append(out, string(p.b))
	}
	return out, nil
}
