// Package explain answers "what would the gateway do with this request,
// and why": which listener, virtual host, VirtualService and route serve
// it (and why each earlier route did not), the weighted split, the
// cluster's priority table and which endpoint the load balancer would
// pick, or, for a 404 or 503, the reason in words.
//
// It is a set of pure functions over a snapshot (and optionally the live
// state of its clusters from a running gateway's admin API) and an
// *http.Request. Routing reuses the router's own matchers
// (router.Explain) and balancing the data plane's own picker (package
// upstream), so an explanation cannot drift from what the gateway does.
package explain

import (
	"net"
	"net/http"
	"sort"
	"strconv"

	"github.com/meshgate/meshgate/internal/dataplane"
	"github.com/meshgate/meshgate/internal/dataplane/router"
	"github.com/meshgate/meshgate/internal/snapshot"
)

// Input is the request to explain and where it arrives.
type Input struct {
	// Request carries the method, Host, target (RequestURI and URL),
	// headers, RemoteAddr (the client address) and TLS (set for https).
	Request *http.Request
	// Port is the gateway port the request arrives on (a Gateway server
	// port number).
	Port uint32
	// Live, when set, is the running gateway's cluster state (the admin
	// API's /clusters): the priority table and endpoint health then come
	// from it, ejections included, instead of from the snapshot alone.
	Live []dataplane.ClusterStatus
}

// Result is the explanation.
type Result struct {
	// Port is the port the request arrived on; Listener is the listener
	// serving it, nil when none does.
	Port     uint32             `json:"port"`
	Listener *snapshot.Listener `json:"-"`
	// ListenerName is Listener's name, for JSON output.
	ListenerName string `json:"listener,omitempty"`
	// Routing is the virtual host and route decision.
	Routing *router.Explanation `json:"-"`
	// Status and Flags are the response the gateway gives (0 when it
	// forwards the request), and Reason says why in words.
	Status int    `json:"status,omitempty"`
	Flags  string `json:"flags,omitempty"`
	Reason string `json:"reason"`
	// Split is the route's weighted destinations, each with its cluster.
	Split []Destination `json:"split,omitempty"`
}

// Destination is one entry of a route's weighted split.
type Destination struct {
	Cluster string `json:"cluster"`
	Weight  uint32 `json:"weight"`
	// Percent is the share of the route's requests it receives.
	Percent float64 `json:"percent"`
	// Service, Port and Subset describe the cluster; empty when it does
	// not exist.
	Service string `json:"service,omitempty"`
	Subset  string `json:"subset,omitempty"`
	// Upstream says how requests reach the endpoints: HTTP version and
	// TLS; empty when the cluster does not exist.
	Upstream string `json:"upstream,omitempty"`
	// Balance is the cluster's balancing for this request; nil when the
	// cluster does not exist.
	Balance *Balance `json:"balance,omitempty"`
	// Reason is set when requests sent here fail (503), in words.
	Status int    `json:"status,omitempty"`
	Flags  string `json:"flags,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Explain explains in.Request against snap.
func Explain(snap *snapshot.Snapshot, in Input) *Result {
	res := &Result{Port: in.Port}
	l := listenerFor(snap, in.Port)
	if l == nil {
		res.Reason = "no listener serves port " + strconv.FormatUint(uint64(in.Port), 10) +
			": connections are refused" + servedPorts(snap)
		return res
	}
	res.Listener, res.ListenerName = l, l.Name
	if len(l.VirtualHosts) == 0 && len(l.Chains) > 0 {
		res.Reason = "listener " + l.Name + " is a " + string(l.Protocol) + " listener: it forwards connections by SNI or port, not HTTP requests"
		return res
	}
	e := router.Explain(l, in.Request)
	res.Routing = &e
	switch {
	case e.VirtualHost == nil:
		res.Status, res.Flags = http.StatusNotFound, "NR"
		res.Reason = "no virtual host on " + l.Name + " serves Host " + strconv.Quote(e.Host) + domainsOf(l)
		return res
	case e.VirtualHost.RequireTLS && in.Request.TLS == nil:
		res.Status = http.StatusMovedPermanently
		res.Reason = "the server for " + e.Domain + " sets httpsRedirect: plain-text requests are redirected to https"
		return res
	case e.Route == nil:
		res.Status, res.Flags = http.StatusNotFound, "NR"
		res.Reason = "virtual host " + e.VirtualHost.Name + " has no route for this request (each route's failed condition is listed above)"
		return res
	}
	rt := e.Route
	switch {
	case rt.DirectResponse != nil:
		res.Status = int(rt.DirectResponse.Status)
		res.Reason = "route " + rt.Name + " answers directly (directResponse)"
		return res
	case rt.Redirect != nil:
		res.Status = int(rt.Redirect.Code)
		if res.Status == 0 {
			res.Status = http.StatusMovedPermanently
		}
		res.Reason = "route " + rt.Name + " redirects (redirect)"
		return res
	}
	res.Reason = "route " + rt.Name + " of VirtualService " + rt.VirtualService + " forwards the request"
	if f := rt.Fault; f != nil && f.Abort != nil && f.Abort.Percent > 0 {
		res.Reason += "; fault injection aborts " + strconv.FormatFloat(f.Abort.Percent, 'f', -1, 64) + "% of requests"
	}
	res.Split = split(snap, rt, in)
	if len(res.Split) == 1 && res.Split[0].Status != 0 {
		res.Status, res.Flags = res.Split[0].Status, res.Split[0].Flags
		res.Reason = res.Split[0].Reason
	}
	return res
}

// listenerFor finds the listener of a Gateway server port. Listeners are
// sorted by port, then bind address; the first for the port is taken.
func listenerFor(snap *snapshot.Snapshot, port uint32) *snapshot.Listener {
	for _, l := range snap.Listeners {
		if l.Port == port {
			return l
		}
	}
	return nil
}

func servedPorts(snap *snapshot.Snapshot) string {
	if len(snap.Listeners) == 0 {
		return "; the configuration has no listeners"
	}
	seen := map[uint32]bool{}
	var ports []int
	for _, l := range snap.Listeners {
		if !seen[l.Port] {
			seen[l.Port] = true
			ports = append(ports, int(l.Port))
		}
	}
	sort.Ints(ports)
	s := "; the gateway serves ports"
	for _, p := range ports {
		s += " " + strconv.Itoa(p)
	}
	return s
}

func domainsOf(l *snapshot.Listener) string {
	var ds []string
	for _, vh := range l.VirtualHosts {
		ds = append(ds, vh.Domains...)
	}
	if len(ds) == 0 {
		return "; no VirtualService is bound to this listener"
	}
	s := "; it serves"
	for i, d := range ds {
		if i == 8 {
			s += " ..."
			break
		}
		s += " " + d
	}
	return s
}

// RequestPort is the gateway port a URL addresses: its explicit port, else
// 80 for http and 443 for https.
func RequestPort(host string, https bool) uint32 {
	if _, p, err := net.SplitHostPort(host); err == nil {
		if n, err := strconv.ParseUint(p, 10, 16); err == nil {
			return uint32(n)
		}
	}
	if https {
		return 443
	}
	return 80
}
