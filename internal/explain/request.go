package explain

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// NewRequest builds the request to explain the way the gateway's HTTP
// server would have read it: Host from the URL (or a Host header), the
// target as sent, TLS for https, and the client address as RemoteAddr.
// headers are "Name: value" strings, as curl's -H takes them.
func NewRequest(method, rawURL string, headers []string, clientAddress string) (*http.Request, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("URL %q: %w", rawURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("URL %q: the scheme must be http or https", rawURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("URL %q has no host", rawURL)
	}
	if method == "" {
		method = http.MethodGet
	}
	r, err := http.NewRequest(method, u.String(), nil)
	if err != nil {
		return nil, err
	}
	r.RequestURI = u.RequestURI()
	for _, h := range headers {
		name, value, err := ParseHeader(h)
		if err != nil {
			return nil, err
		}
		if strings.EqualFold(name, "host") {
			r.Host = value
			continue
		}
		r.Header.Add(name, value)
	}
	if u.Scheme == "https" {
		r.TLS = &tls.ConnectionState{ServerName: u.Hostname()}
	}
	if clientAddress == "" {
		clientAddress = "127.0.0.1"
	}
	if _, _, err := net.SplitHostPort(clientAddress); err != nil {
		clientAddress = net.JoinHostPort(clientAddress, "40000")
	}
	r.RemoteAddr = clientAddress
	return r, nil
}

// ParseHeader reads "Name: value". The name must be an HTTP token; the
// value is trimmed and may be empty, and may not hold CR or LF.
func ParseHeader(s string) (name, value string, err error) {
	name, value, ok := strings.Cut(s, ":")
	if !ok {
		return "", "", fmt.Errorf("header %q: want \"Name: value\"", s)
	}
	name = strings.TrimSpace(name)
	if name == "" || !isToken(name) {
		return "", "", fmt.Errorf("header %q: %q is not a valid header name", s, name)
	}
	value = strings.TrimSpace(value)
	if strings.ContainsAny(value, "\r\n\x00") {
		return "", "", fmt.Errorf("header %q: the value holds a line break", s)
	}
	return name, value, nil
}

// isToken reports whether s is an RFC 9110 token.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
