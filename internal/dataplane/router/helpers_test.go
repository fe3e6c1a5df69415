package router

import (
	"crypto/tls"
	"net/http"
	"net/url"
	"regexp"

	"github.com/meshgate/meshgate/internal/snapshot"
)

// rq describes a test request; its methods return modified copies so that
// table entries read as one expression.
type rq struct {
	method, host, target string
	tls                  bool
	headers              [][2]string
}

func get(target string) rq { return rq{method: http.MethodGet, host: "example.com", target: target} }

func (q rq) withMethod(m string) rq { q.method = m; return q }
func (q rq) withHost(h string) rq   { q.host = h; return q }
func (q rq) withTLS() rq            { q.tls = true; return q }
func (q rq) withHeader(k, v string) rq {
	q.headers = append(append([][2]string(nil), q.headers...), [2]string{k, v})
	return q
}

// build makes the request the way net/http's server does: RequestURI is
// the target as sent and URL is parsed from it.
func (q rq) build() *http.Request {
	u, err := url.ParseRequestURI(q.target)
	if err != nil {
		panic(err)
	}
	r := &http.Request{
		Method:     q.method,
		Host:       q.host,
		RequestURI: q.target,
		URL:        u,
		Header:     http.Header{},
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
	}
	for _, h := range q.headers {
		r.Header.Add(h[0], h[1])
	}
	if q.tls {
		r.TLS = &tls.ConnectionState{}
	}
	return r
}

func exact(v string) *snapshot.StringMatch {
	return &snapshot.StringMatch{Kind: snapshot.Exact, Value: v}
}

func prefix(v string) *snapshot.StringMatch {
	return &snapshot.StringMatch{Kind: snapshot.Prefix, Value: v}
}

func present() *snapshot.StringMatch {
	return &snapshot.StringMatch{Kind: snapshot.Present}
}

// regex leaves Compiled nil, so New has to compile it.
func regex(v string) *snapshot.StringMatch {
	return &snapshot.StringMatch{Kind: snapshot.Regex, Value: v}
}

// compiled sets Compiled the way translate does.
func compiled(v string) *snapshot.StringMatch {
	return &snapshot.StringMatch{Kind: snapshot.Regex, Value: v, Compiled: regexp.MustCompile("^(?:" + v + ")$")}
}

func hdr(name string, sm *snapshot.StringMatch) []snapshot.HeaderMatch {
	return []snapshot.HeaderMatch{{Name: name, Value: *sm}}
}

func qp(name string, sm *snapshot.StringMatch) []snapshot.QueryMatch {
	return []snapshot.QueryMatch{{Name: name, Value: *sm}}
}

// listener returns a listener on port 8080 serving the given virtual hosts.
func listener(vhs ...*snapshot.VirtualHost) *snapshot.Listener {
	return &snapshot.Listener{Name: "0.0.0.0_8080", Port: 8080, Protocol: snapshot.ProtocolHTTP, VirtualHosts: vhs}
}

func vhostOf(name string, domains []string, routes ...*snapshot.Route) *snapshot.VirtualHost {
	return &snapshot.VirtualHost{Name: name, Domains: domains, Routes: routes}
}

func rt(name string, matches ...snapshot.Match) *snapshot.Route {
	return &snapshot.Route{Name: name, Matches: matches}
}

func routeName(r *snapshot.Route) string {
	if r == nil {
		return "<nil>"
	}
	return r.Name
}

func vhostName(v *snapshot.VirtualHost) string {
	if v == nil {
		return "<nil>"
	}
	return v.Name
}
