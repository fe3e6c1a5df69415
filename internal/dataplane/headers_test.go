package dataplane

import (
	"net/http"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/internal/echo"
	"github.com/meshgate/meshgate/internal/snapshot"
)

func ops(set, add []snapshot.Header, remove ...string) *snapshot.HeaderOps {
	return &snapshot.HeaderOps{Set: set, Add: add, Remove: remove}
}

func h(name, value string) snapshot.Header { return snapshot.Header{Name: name, Value: value} }

// Header operations apply destination first, then route (so a route set
// overwrites a destination set), each level removing, then setting, then
// appending; setting host rewrites the authority.
func TestHeaderOperations(t *testing.T) {
	b := backend(t, "b")
	route := routeWith("c", func(r *snapshot.Route) {
		r.Destinations[0].Headers = &snapshot.Headers{
			Request:  ops([]snapshot.Header{h("x-a", "dest")}, []snapshot.Header{h("x-multi", "d")}, "x-remove-me"),
			Response: ops([]snapshot.Header{h("x-resp", "dest")}, nil),
		}
		r.Headers = &snapshot.Headers{
			Request: ops([]snapshot.Header{h("x-a", "route"), h("x-o", "s"), h("host", "h.svc"), h(":path", "/ignored")},
				[]snapshot.Header{h("x-multi", "r"), h("x-o", "a")}, "x-client", "x-o", ":method"),
			Response: ops([]snapshot.Header{h("x-resp", "route")}, []snapshot.Header{h("x-r-add", "1")}, strings.ToLower(echo.NameHeader)),
		}
	})
	g := startPolicyGateway(t, oneRouteSnapshot(route, cluster("c", snapshot.LBRoundRobin, b.Addr())), Options{})
	resp, body := g.send(t, "GET", "/p", hdr("X-Remove-Me", "1", "X-Client", "1", "X-Multi", "c", "X-O", "client"), "")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, want := range []string{
		"header X-A=route\n", "header X-Multi=c,d,r\n", "header X-O=s,a\n", "host=h.svc\n", "uri=/p\n", "method=GET\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("upstream saw no %q in:\n%s", want, body)
		}
	}
	for _, gone := range []string{"X-Remove-Me", "X-Client"} {
		if strings.Contains(body, "header "+gone+"=") {
			t.Errorf("upstream still saw %s:\n%s", gone, body)
		}
	}
	if resp.Header.Get("X-Resp") != "route" || resp.Header.Get("X-R-Add") != "1" || resp.Header.Get(echo.NameHeader) != "" {
		t.Errorf("response headers %v, want x-resp route, x-r-add 1, no %s", resp.Header, echo.NameHeader)
	}
}

// Route response headers decorate the gateway's own answers too.
func TestHeaderOperationsOnLocalReplies(t *testing.T) {
	route := routeWith("c", func(r *snapshot.Route) {
		r.Headers = &snapshot.Headers{Response: ops([]snapshot.Header{h("x-route", "yes")}, nil)}
	})
	g := startPolicyGateway(t, oneRouteSnapshot(route, cluster("c", snapshot.LBRoundRobin)), Options{})
	resp, body := g.send(t, "GET", "/", nil, "")
	if resp.StatusCode != http.StatusServiceUnavailable || body != "no healthy upstream" || resp.Header.Get("X-Route") != "yes" {
		t.Errorf("got %d %q x-route %q, want 503 no healthy upstream with x-route", resp.StatusCode, body, resp.Header.Get("X-Route"))
	}
}
