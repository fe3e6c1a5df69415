package admin

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/meshgate/meshgate/internal/snapshot"
)

// The /listeners and /routes views are the snapshot's listeners and
// routes reshaped for reading: addresses as one string, matches as words,
// weights with their share, and nothing that /config_dump already shows
// in full (policies, TLS details beyond the mode).

type listenerView struct {
	Name     string `json:"name"`
	Address  string `json:"address"`
	Port     uint32 `json:"port"`
	Protocol string `json:"protocol"`
	// Servers are the Gateway servers merged into the listener.
	Servers      []string          `json:"servers"`
	VirtualHosts []vhostSummary    `json:"virtualHosts,omitempty"`
	FilterChains []filterChainView `json:"filterChains,omitempty"`
}

type vhostSummary struct {
	Name    string   `json:"name"`
	Domains []string `json:"domains"`
	Routes  int      `json:"routes"`
}

type filterChainView struct {
	Server      string   `json:"server"`
	ServerNames []string `json:"serverNames"`
	// TLS is the termination mode, or PASSTHROUGH for a chain that
	// relays bytes (TLS passthrough, plain TCP).
	TLS string `json:"tls"`
	// Credentials names the certificate files or Secrets presented.
	Credentials []string      `json:"credentials,omitempty"`
	HTTP        bool          `json:"http,omitempty"`
	Routes      []l4RouteView `json:"routes,omitempty"`
	Unavailable string        `json:"unavailable,omitempty"`
}

type l4RouteView struct {
	Name           string            `json:"name"`
	VirtualService string            `json:"virtualService"`
	SNIHosts       []string          `json:"sniHosts,omitempty"`
	Destinations   []destinationView `json:"destinations"`
}

type destinationView struct {
	Cluster string `json:"cluster"`
	Weight  uint32 `json:"weight"`
	// Percent is the weight's share of the route's traffic.
	Percent float64 `json:"percent"`
}

type routeTable struct {
	Listener     string      `json:"listener"`
	VirtualHosts []vhostView `json:"virtualHosts"`
}

type vhostView struct {
	Name    string      `json:"name"`
	Domains []string    `json:"domains"`
	Routes  []routeView `json:"routes"`
}

type routeView struct {
	Name           string `json:"name"`
	VirtualService string `json:"virtualService"`
	// Match lists the alternatives (any one matches), each as its
	// conditions joined by " and "; empty matches every request.
	Match          []string          `json:"match,omitempty"`
	Destinations   []destinationView `json:"destinations,omitempty"`
	Redirect       string            `json:"redirect,omitempty"`
	DirectResponse uint32            `json:"directResponse,omitempty"`
	Timeout        string            `json:"timeout,omitempty"`
	Retries        uint32            `json:"retries,omitempty"`
	Mirrors        []string          `json:"mirrors,omitempty"`
}

func listenersView(snap *snapshot.Snapshot) []listenerView {
	out := make([]listenerView, 0, len(snap.Listeners))
	for _, l := range snap.Listeners {
		bind := l.Bind
		if bind == "" {
			bind = "0.0.0.0"
		}
		v := listenerView{
			Name:     l.Name,
			Address:  fmt.Sprintf("%s:%d", bind, l.BindPort),
			Port:     l.Port,
			Protocol: string(l.Protocol),
			Servers:  l.Servers,
		}
		if strings.Contains(bind, ":") {
			v.Address = fmt.Sprintf("[%s]:%d", bind, l.BindPort)
		}
		for _, vh := range l.VirtualHosts {
			v.VirtualHosts = append(v.VirtualHosts, vhostSummary{Name: vh.Name, Domains: vh.Domains, Routes: len(vh.Routes)})
		}
		for _, c := range l.Chains {
			fc := filterChainView{Server: c.Server, ServerNames: c.ServerNames, TLS: "PASSTHROUGH", HTTP: c.HTTP, Unavailable: c.Unavailable}
			if c.TLS != nil {
				fc.TLS = string(c.TLS.Mode)
				for _, cert := range c.TLS.Certificates {
					fc.Credentials = append(fc.Credentials, certificateName(cert))
				}
			}
			for _, r := range c.Routes {
				fc.Routes = append(fc.Routes, l4RouteView{
					Name: r.Name, VirtualService: r.VirtualService, SNIHosts: r.SNIHosts,
					Destinations: destinations(r.Destinations),
				})
			}
			v.FilterChains = append(v.FilterChains, fc)
		}
		out = append(out, v)
	}
	return out
}

func certificateName(c snapshot.CertificateSource) string {
	switch {
	case c.Secret != "":
		return "secret " + c.Secret
	case c.CertificateFile != "":
		return "file " + c.CertificateFile
	}
	return "inline"
}

func routesView(snap *snapshot.Snapshot) []routeTable {
	var out []routeTable
	for _, l := range snap.Listeners {
		if len(l.VirtualHosts) == 0 {
			continue
		}
		t := routeTable{Listener: l.Name}
		for _, vh := range l.VirtualHosts {
			v := vhostView{Name: vh.Name, Domains: vh.Domains, Routes: []routeView{}}
			for _, r := range vh.Routes {
				v.Routes = append(v.Routes, routeOf(r))
			}
			t.VirtualHosts = append(t.VirtualHosts, v)
		}
		out = append(out, t)
	}
	return out
}

func routeOf(r *snapshot.Route) routeView {
	v := routeView{Name: r.Name, VirtualService: r.VirtualService, Destinations: destinations(r.Destinations)}
	for _, m := range r.Matches {
		v.Match = append(v.Match, describeMatch(m))
	}
	if rd := r.Redirect; rd != nil {
		v.Redirect = fmt.Sprintf("%d %s%s%s", rd.Code, prefixed(rd.Scheme, "://"), rd.Authority, rd.URI)
	}
	if d := r.DirectResponse; d != nil {
		v.DirectResponse = d.Status
	}
	if r.Timeout > 0 {
		v.Timeout = r.Timeout.String()
	}
	if r.Retry != nil {
		v.Retries = r.Retry.Attempts
	}
	for _, m := range r.Mirrors {
		v.Mirrors = append(v.Mirrors, m.Cluster)
	}
	return v
}

func prefixed(s, sep string) string {
	if s == "" {
		return ""
	}
	return s + sep
}

func destinations(ds []snapshot.WeightedCluster) []destinationView {
	var total uint64
	for _, d := range ds {
		total += uint64(d.Weight)
	}
	out := make([]destinationView, 0, len(ds))
	for _, d := range ds {
		v := destinationView{Cluster: d.Cluster, Weight: d.Weight}
		switch {
		case total > 0:
			v.Percent = float64(d.Weight) * 100 / float64(total)
		case len(ds) == 1:
			v.Percent = 100
		}
		out = append(out, v)
	}
	return out
}

// describeMatch renders one match block as conditions in words, e.g.
// "uri prefix /api and header x-user exact alice".
func describeMatch(m snapshot.Match) string {
	var parts []string
	add := func(what string, s *snapshot.StringMatch) {
		if s != nil {
			parts = append(parts, what+" "+describeString(*s))
		}
	}
	add("uri", m.URI)
	add("scheme", m.Scheme)
	add("method", m.Method)
	add("authority", m.Authority)
	for _, h := range m.Headers {
		parts = append(parts, "header "+h.Name+" "+describeString(h.Value))
	}
	for _, h := range m.WithoutHeaders {
		parts = append(parts, "without header "+h.Name+" "+describeString(h.Value))
	}
	for _, q := range m.QueryParams {
		parts = append(parts, "query "+q.Name+" "+describeString(q.Value))
	}
	if m.Port != 0 {
		parts = append(parts, fmt.Sprintf("port %d", m.Port))
	}
	if m.IgnoreURICase {
		parts = append(parts, "ignoring uri case")
	}
	if len(parts) == 0 {
		return "any request"
	}
	return strings.Join(parts, " and ")
}

func describeString(s snapshot.StringMatch) string {
	if s.Kind == snapshot.Present {
		return "present"
	}
	return string(s.Kind) + " " + s.Value
}

// listenersHandler and routesHandler serve the views of the snapshot in
// service.
func listenersHandler(g Gateway) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if snap := serving(w, g); snap != nil {
			writeJSON(w, listenersView(snap))
		}
	}
}

func routesHandler(g Gateway) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if snap := serving(w, g); snap != nil {
			writeJSON(w, routesView(snap))
		}
	}
}

func serving(w http.ResponseWriter, g Gateway) *snapshot.Snapshot {
	snap := g.Snapshot()
	if snap == nil {
		http.Error(w, "no configuration applied yet", http.StatusServiceUnavailable)
	}
	return snap
}
