package dataplane

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"net/url"

	"github.com/cespare/xxhash/v2"
	"github.com/meshgate/meshgate/internal/snapshot"
)

// requestHash computes the consistent-hash key of a request under policy
// p. It reports false when the request carries nothing to hash on; the
// picker then chooses at random, as Envoy does.
func requestHash(w http.ResponseWriter, r *http.Request, p *snapshot.HashPolicy) (uint64, bool) {
	switch {
	case p.Header != "":
		vs := r.Header.Values(p.Header)
		if len(vs) == 0 {
			return 0, false
		}
		return xxhash.Sum64String(joinComma(vs)), true
	case p.Cookie != nil:
		if c, err := r.Cookie(p.Cookie.Name); err == nil {
			return xxhash.Sum64String(c.Value), true
		}
		if p.Cookie.TTL == nil {
			return 0, false
		}
		// Envoy generates the cookie when it is missing and a TTL is set,
		// so the client sticks to the endpoint from its next request on.
		value := newCookieValue()
		ck := &http.Cookie{Name: p.Cookie.Name, Value: value, Path: p.Cookie.Path, HttpOnly: true}
		if ttl := *p.Cookie.TTL; ttl > 0 {
			ck.MaxAge = int(ttl.Seconds())
		}
		w.Header().Add("Set-Cookie", ck.String())
		return xxhash.Sum64String(value), true
	case p.SourceIP:
		ip, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			ip = r.RemoteAddr
		}
		return xxhash.Sum64String(ip), true
	case p.QueryParam != "":
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return 0, false
		}
		vs, ok := q[p.QueryParam]
		if !ok || len(vs) == 0 {
			return 0, false
		}
		return xxhash.Sum64String(vs[0]), true
	}
	return 0, false
}

func newCookieValue() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
