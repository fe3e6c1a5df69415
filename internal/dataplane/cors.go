package dataplane

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/meshgate/meshgate/internal/snapshot"
)

// CORS as Envoy's filter does it for a route's corsPolicy. A request with
// an Origin the policy allows gets Access-Control-Allow-Origin (the Origin
// echoed), Allow-Credentials and Expose-Headers on whatever response the
// route produces. A preflight (OPTIONS with Origin and
// Access-Control-Request-Method) from an allowed origin is answered here,
// 200 without forwarding. A preflight from another origin is forwarded
// upstream like any request (unmatchedPreflights FORWARD, the default),
// or, under IGNORE, answered here without Allow-Origin so the browser
// refuses it.

// originMatcher is one allowOrigins entry.
type originMatcher struct {
	kind  snapshot.MatchKind
	value string
	re    *regexp.Regexp
}

func newOriginMatcher(sm *snapshot.StringMatch) originMatcher {
	m := originMatcher{kind: sm.Kind, value: sm.Value, re: sm.Compiled}
	if m.kind == snapshot.Regex && m.re == nil {
		re, err := regexp.Compile("^(?:" + sm.Value + ")$")
		if err != nil {
			// Fail closed: a broken pattern allows no origin.
			m.kind = ""
		}
		m.re = re
	}
	return m
}

func (m *originMatcher) match(s string) bool {
	switch m.kind {
	case snapshot.Exact:
		return s == m.value
	case snapshot.Prefix:
		return strings.HasPrefix(s, m.value)
	case snapshot.Regex:
		return m.re.MatchString(s)
	case snapshot.Present:
		return true
	}
	return false
}

// originAllowed follows Envoy: a matcher that accepts the literal "*"
// allows every origin.
func (p *routePlan) originAllowed(origin string) bool {
	for i := range p.origins {
		if p.origins[i].match("*") || p.origins[i].match(origin) {
			return true
		}
	}
	return false
}

// handleCORS runs before the route's action. It answers a preflight it
// must answer and returns true; otherwise it notes an allowed origin for
// the response and returns false.
func (s *Server) handleCORS(w http.ResponseWriter, r *http.Request, x *exchange) bool {
	c := x.route.CORS
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	allowed := x.plan.originAllowed(origin)
	if allowed {
		x.origin = origin
	}
	reqMethod := r.Header.Get("Access-Control-Request-Method")
	if r.Method != http.MethodOptions || reqMethod == "" {
		return false
	}
	if !allowed && c.UnmatchedPreflights != "IGNORE" {
		return false
	}
	h := w.Header()
	// Route header operations decorate the answer; the CORS headers are
	// the preflight's own (no Expose-Headers on a preflight).
	x.origin = ""
	decorate(h, x)
	if allowed {
		h.Set("Access-Control-Allow-Origin", origin)
	}
	if c.AllowCredentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if m := strings.Join(c.AllowMethods, ","); m == "*" {
		h.Set("Access-Control-Allow-Methods", reqMethod)
	} else if m != "" {
		h.Set("Access-Control-Allow-Methods", m)
	}
	if hs := strings.Join(c.AllowHeaders, ","); hs == "*" {
		if v := r.Header.Get("Access-Control-Request-Headers"); v != "" {
			h.Set("Access-Control-Allow-Headers", v)
		}
	} else if hs != "" {
		h.Set("Access-Control-Allow-Headers", hs)
	}
	if c.MaxAge > 0 {
		h.Set("Access-Control-Max-Age", strconv.FormatInt(int64(c.MaxAge.Seconds()), 10))
	}
	w.WriteHeader(http.StatusOK)
	return true
}

// corsResponseHeaders adds the CORS headers of an allowed origin to a
// response.
func corsResponseHeaders(h http.Header, x *exchange) {
	c := x.route.CORS
	h.Set("Access-Control-Allow-Origin", x.origin)
	if c.AllowCredentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if len(c.ExposeHeaders) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(c.ExposeHeaders, ","))
	}
}
