package translate

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
	networkingv1 "istio.io/api/networking/v1"
)

// protocolFamily groups Gateway server protocols that can share a port.
// Istio merges plain-text HTTP servers on one port into one route
// configuration, merges TLS servers by SNI, and rejects mixing families:
// "conflict with existing server".
type protocolFamily int

const (
	familyHTTP protocolFamily = iota
	familyTLS
	familyTCP
)

func (f protocolFamily) String() string {
	switch f {
	case familyHTTP:
		return "plain-text HTTP"
	case familyTLS:
		return "TLS"
	}
	return "TCP"
}

// serverProtocol maps a Gateway port.protocol (case-insensitive, as in
// Istio) to its snapshot name and family.
func serverProtocol(p string) (snapshot.Protocol, protocolFamily, bool) {
	switch strings.ToUpper(p) {
	case "HTTP":
		return snapshot.ProtocolHTTP, familyHTTP, true
	case "HTTP2":
		return snapshot.ProtocolHTTP2, familyHTTP, true
	case "GRPC":
		return snapshot.ProtocolGRPC, familyHTTP, true
	case "GRPC-WEB":
		return snapshot.ProtocolGRPCWeb, familyHTTP, true
	case "HTTPS":
		return snapshot.ProtocolHTTPS, familyTLS, true
	case "TLS":
		return snapshot.ProtocolTLS, familyTLS, true
	case "TCP", "MONGO", "REDIS", "MYSQL":
		return snapshot.ProtocolTCP, familyTCP, true
	}
	return "", 0, false
}

// gwServer is one accepted Gateway server.
type gwServer struct {
	// gateway is "namespace/name" of the Gateway; index is the server's
	// position in it.
	gateway string
	index   int
	meta    *resource.Meta
	spec    *networkingv1.Server
	hosts   []serverHost

	protocol snapshot.Protocol
	family   protocolFamily
	// http is set when the server serves HTTP routes: a plain-text HTTP
	// server, or an HTTPS server that terminates TLS.
	http bool
	// passthrough is set for a TLS-family server in PASSTHROUGH mode,
	// which VirtualService tls routes serve.
	passthrough bool
	// redirect is a plain-text server's tls.httpsRedirect.
	redirect bool
	// tls is set when the server terminates TLS (tls.go).
	tls *snapshot.TLSContext
	// unavailable says why a terminating server's credential cannot be
	// used; its chain then refuses connections.
	unavailable string
}

// name renders "namespace/name/index", the form Listener.Servers uses.
func (s *gwServer) name() string { return s.gateway + "/" + strconv.Itoa(s.index) }

// listenerBuild is a listener being assembled: the servers that claimed a
// (bind, port) pair.
type listenerBuild struct {
	out    *snapshot.Listener
	family protocolFamily
	// served is set for every listener built; Build emits served ones.
	served  bool
	servers []*gwServer
	// sniHosts are the hosts the servers of a TLS listener claimed, with
	// the server that claimed each; portNames the Gateway and port name of
	// its HTTPS servers. Later servers may not reuse either (Istio).
	sniHosts  map[string]*gwServer
	portNames map[string]*gwServer
	// l4 are the tls and tcp routes of its servers (tcproutes.go).
	l4 map[*gwServer][]*snapshot.L4Route
}

// buildListeners turns the servers of the Gateways that select this
// gateway into listeners. Gateways are taken in Bundle order (oldest
// first), so when two servers conflict the older one wins, as in Istio.
func (b *builder) buildListeners() []*listenerBuild {
	b.gateways = map[string]*resource.Gateway{}
	b.selected = map[string]bool{}
	for _, gw := range b.in.Gateways {
		b.gateways[nsName(&gw.Meta)] = gw
	}

	var out []*listenerBuild
	byAddress := map[string]*listenerBuild{} // bind + "|" + port
	bySocket := map[string]*listenerBuild{}  // bind + "|" + bindPort
	for _, gw := range b.in.Gateways {
		if gw.Spec == nil {
			b.report(&gw.Meta, diag.Error, CodeNoSpec, "spec", "the Gateway has no spec; it is ignored", "")
			continue
		}
		if !labelsMatch(gw.Spec.Selector, b.id.Labels) {
			b.report(&gw.Meta, diag.Warning, CodeGatewayNotSelected, "spec.selector",
				fmt.Sprintf("selector %s does not match this gateway's labels %s; the Gateway is skipped",
					formatLabels(gw.Spec.Selector), formatLabels(b.id.Labels)),
				"every selector label must be one of the gateway's labels (--labels), with the same value")
			continue
		}
		key := nsName(&gw.Meta)
		b.selected[key] = true
		for i, spec := range gw.Spec.Servers {
			srv := b.acceptServer(gw, key, i, spec)
			if srv == nil {
				continue
			}
			if l := b.addServer(srv, byAddress, bySocket); l != nil {
				out = append(out, l)
			}
		}
	}
	return out
}

// acceptServer checks one server on its own and returns it, or nil with a
// diagnostic when it cannot be served.
func (b *builder) acceptServer(gw *resource.Gateway, key string, i int, spec *networkingv1.Server) *gwServer {
	field := resource.JoinIndex("spec.servers", i)
	if spec == nil {
		return nil
	}
	if n := spec.GetPort().GetNumber(); n == 0 || n > 65535 {
		b.report(&gw.Meta, diag.Error, CodeServerPort, field+".port.number",
			"the server needs a port number between 1 and 65535; the server is skipped", "")
		return nil
	}
	if len(spec.Hosts) == 0 {
		b.report(&gw.Meta, diag.Error, CodeServerHosts, field+".hosts",
			"the server has no hosts; the server is skipped", `list the hosts it serves, or "*" for all`)
		return nil
	}
	srv := &gwServer{gateway: key, index: i, meta: &gw.Meta, spec: spec}
	seen := map[string]bool{}
	for j, h := range spec.Hosts {
		sh, ok := parseServerHost(h, gw.Namespace)
		if !ok {
			b.report(&gw.Meta, diag.Error, CodeServerHosts, resource.JoinIndex(field+".hosts", j),
				fmt.Sprintf("host %q is not of the form [namespace/]dnsName; it is ignored", h), "")
			continue
		}
		if !seen[sh.namespace+"/"+sh.host] {
			seen[sh.namespace+"/"+sh.host] = true
			srv.hosts = append(srv.hosts, sh)
		}
	}
	if len(srv.hosts) == 0 {
		return nil
	}
	return srv
}

// addServer places an accepted server on its listener: a new listener, a
// merge into an earlier listener on the same address (plain-text HTTP
// servers share one route configuration; TLS servers are told apart by
// SNI), or a conflict. It returns the listener when a new one was created.
func (b *builder) addServer(srv *gwServer, byAddress, bySocket map[string]*listenerBuild) *listenerBuild {
	field := resource.JoinIndex("spec.servers", srv.index)
	port := srv.spec.Port
	protocol, family, ok := serverProtocol(port.Protocol)
	if !ok {
		b.report(srv.meta, diag.Error, CodeServerProtocol, field+".port.protocol",
			fmt.Sprintf("protocol %q is not a Gateway protocol; the server is skipped", port.Protocol),
			"use HTTP, HTTPS, GRPC, GRPC-WEB, HTTP2, MONGO, TCP or TLS")
		return nil
	}
	srv.protocol, srv.family = protocol, family
	if !b.serverTLS(srv) {
		return nil
	}
	bind := srv.spec.Bind
	switch {
	case strings.HasPrefix(bind, "unix://"):
		b.report(srv.meta, diag.Warning, CodeServerUnsupported, field+".bind",
			"binding to a unix domain socket is not supported yet; the server is skipped", "")
		return nil
	case bind == "0.0.0.0":
		bind = ""
	case bind != "" && !isIPAddress(bind):
		b.report(srv.meta, diag.Error, CodeServerBind, field+".bind",
			fmt.Sprintf("bind %q is not an IP address; the server is skipped", bind), "")
		return nil
	}

	addrKey := bind + "|" + strconv.FormatUint(uint64(port.Number), 10)
	if l := byAddress[addrKey]; l != nil {
		winner := l.servers[0]
		if l.family != family {
			b.report(srv.meta, diag.Error, CodeServerConflict, field+".port",
				fmt.Sprintf("%s server on port %d conflicts with existing server %s (%s, %s); the server is skipped",
					family, port.Number, winner.name(), l.out.Protocol, l.family),
				"the oldest Gateway wins a port; use another port or a compatible protocol")
			return nil
		}
		switch family {
		case familyTCP:
			b.report(srv.meta, diag.Error, CodeServerConflict, field+".port",
				fmt.Sprintf("TCP server on port %d conflicts with existing server %s: nothing tells the connections of two TCP servers apart; the server is skipped",
					port.Number, winner.name()),
				"the oldest Gateway wins a port; use another port, or protocol TLS to tell servers apart by SNI")
			return nil
		case familyTLS:
			if !b.claimTLS(l, srv) {
				return nil
			}
		}
		l.servers = append(l.servers, srv)
		l.out.Servers = append(l.out.Servers, srv.name())
		return nil
	}

	bindPort := b.gatewayBindPort(port.Number)
	sockKey := bind + "|" + strconv.FormatUint(uint64(bindPort), 10)
	if l := bySocket[sockKey]; l != nil {
		b.report(srv.meta, diag.Error, CodeBindPortConflict, field+".port.number",
			fmt.Sprintf("port %d is served on port %d, which server %s (port %d) already uses; the server is skipped",
				port.Number, bindPort, l.servers[0].name(), l.out.Port),
			"the Service in front of the gateway maps two ports to one targetPort")
		return nil
	}
	host := bind
	if host == "" {
		host = "0.0.0.0"
	}
	l := &listenerBuild{
		out: &snapshot.Listener{
			Name:         host + "_" + strconv.FormatUint(uint64(bindPort), 10),
			Bind:         bind,
			Port:         port.Number,
			BindPort:     bindPort,
			Protocol:     protocol,
			Servers:      []string{srv.name()},
			VirtualHosts: []*snapshot.VirtualHost{},
		},
		family:    family,
		served:    true,
		servers:   []*gwServer{srv},
		sniHosts:  map[string]*gwServer{},
		portNames: map[string]*gwServer{},
		l4:        map[*gwServer][]*snapshot.L4Route{},
	}
	if family == familyTLS {
		b.claimTLS(l, srv)
	}
	byAddress[addrKey] = l
	bySocket[sockKey] = l
	return l
}

// claimTLS records the SNI hosts and port name of a TLS server on its
// listener. As in Istio, a server naming a host that an earlier server on
// the port already claimed is skipped whole ("duplicate host names"), and
// so is an HTTPS server whose Gateway and port name an earlier one on the
// port already used, since they name its route configuration.
func (b *builder) claimTLS(l *listenerBuild, srv *gwServer) bool {
	field := resource.JoinIndex("spec.servers", srv.index)
	for j, sh := range srv.hosts {
		if winner := l.sniHosts[sh.host]; winner != nil {
			b.report(srv.meta, diag.Error, CodeTLSDuplicateHost, resource.JoinIndex(field+".hosts", j),
				fmt.Sprintf("host %s on port %d is already served by server %s; the server is skipped",
					sh.host, srv.spec.Port.Number, winner.name()),
				"the oldest Gateway wins a host on a TLS port; remove the host from one of the servers")
			return false
		}
	}
	nameKey := srv.gateway + "|" + srv.spec.Port.Name
	if srv.http {
		if winner := l.portNames[nameKey]; winner != nil {
			b.report(srv.meta, diag.Error, CodeDuplicatePortName, field+".port.name",
				fmt.Sprintf("server %s already uses port name %q for HTTPS on port %d; the server is skipped",
					winner.name(), srv.spec.Port.Name, srv.spec.Port.Number),
				"give each HTTPS server of a Gateway on one port its own port name")
			return false
		}
		l.portNames[nameKey] = srv
	}
	for _, sh := range srv.hosts {
		l.sniHosts[sh.host] = srv
	}
	return true
}

// gatewayBindPort is the port to bind for a Gateway server port. Istio's
// server port is the port of the Kubernetes Service in front of the
// gateway, and the gateway listens on that Service port's targetPort. The
// Service is one in the gateway's namespace whose (non-empty) selector
// matches the gateway's labels. Without one, the server port is bound as is.
func (b *builder) gatewayBindPort(port uint32) uint32 {
	result, found := port, false
	for _, s := range b.in.Services {
		if s.Spec == nil || s.Namespace != b.id.Namespace || len(s.Spec.Selector) == 0 ||
			!labelsMatch(s.Spec.Selector, b.id.Labels) {
			continue
		}
		for j, p := range s.Spec.Ports {
			if p.Port <= 0 || uint32(p.Port) != port {
				continue
			}
			target := port
			switch {
			case p.TargetPort.StrVal != "":
				b.report(&s.Meta, diag.Warning, CodeNamedTargetPort, resource.JoinIndex("spec.ports", j)+".targetPort",
					fmt.Sprintf("targetPort %q is a container port name, which needs the pod spec; port %d is bound as is",
						p.TargetPort.StrVal, port),
					"use a numeric targetPort")
			case p.TargetPort.IntVal > 0:
				target = uint32(p.TargetPort.IntVal)
			}
			if !found {
				result, found = target, true
			} else if target != result {
				b.report(&s.Meta, diag.Warning, CodeGatewayServicePorts, resource.JoinIndex("spec.ports", j)+".targetPort",
					fmt.Sprintf("maps port %d to %d, but an older Service selecting the gateway maps it to %d, which is used",
						port, target, result), "")
			}
			break
		}
	}
	return result
}
