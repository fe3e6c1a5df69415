package validate

import (
	"strings"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/translate"
	networking "istio.io/api/networking/v1alpha3"
)

// unixPrefix marks a server bind or endpoint address as a unix socket.
const unixPrefix = "unix://"

// checkGateway is Istio's ValidateGateway. Conditions translate reports
// for the Gateways that select this gateway keep translate's code, so the
// same mistake is one finding.
func checkGateway(g *resource.Gateway) diag.List {
	r := newReporter(&g.Meta)
	if !isDNS1123Label(g.Name) && !gatewaySemantics(g.Annotations) {
		r.invalid(CodeName, "metadata.name", "Gateway names are DNS labels: lower-case letters, digits and '-'",
			g.Name, "invalid gateway name")
	}
	spec := g.Spec
	if spec == nil || len(spec.Servers) == 0 {
		r.required("spec.servers", "add a server with a port and hosts", "gateway must have at least one server")
		return r.out
	}
	portNames := map[string]bool{}
	for i, s := range spec.Servers {
		field := index("spec.servers", i)
		if s == nil {
			r.required(field, "", "server may not be null")
			continue
		}
		r.checkServer(field, s)
		if s.Port == nil {
			continue
		}
		if portNames[s.Port.Name] && s.Port.Name != "" {
			r.errorf(translate.CodeDuplicatePortName, field+".port.name", "give each server of a Gateway its own port name",
				"Duplicate value: port names in servers must be unique: duplicate name %s", s.Port.Name)
		}
		portNames[s.Port.Name] = true
		if s.GetTls().GetHttpsRedirect() && !isHTTPProtocol(s.Port.Protocol) {
			r.warnf(translate.CodeTLSIgnored, field+".tls.httpsRedirect", "",
				"tls.httpsRedirect should only be used with http servers")
		}
	}
	return r.out
}

func (r *reporter) checkServer(field string, s *networking.Server) {
	if len(s.Hosts) == 0 {
		r.errorf(translate.CodeServerHosts, field+".hosts", `list the hosts it serves, or "*"`,
			"Required value: server config must contain at least one host")
	}
	for j, h := range s.Hosts {
		if err := validateGatewayHost(h); err != nil {
			r.errorf(translate.CodeServerHosts, index(field+".hosts", j),
				`write "[namespace/]host", e.g. "*/app.example.com"`, "%v", err)
		}
	}
	unix := strings.HasPrefix(s.Bind, unixPrefix)
	portOK := r.checkServerPort(field+".port", s.Port, unix)
	switch {
	case unix:
		r.checkUnixAddress(field+".bind", strings.TrimPrefix(s.Bind, unixPrefix))
		if s.Port != nil && s.Port.Number != 0 {
			r.errorf(translate.CodeServerBind, field+".port.number", "", "port number must be 0 for unix domain socket")
		}
	case s.Bind != "" && !isIP(s.Bind):
		r.errorf(translate.CodeServerBind, field+".bind", "bind is an IP address of the gateway, or unix:///path",
			"%q is not a valid IP", s.Bind)
	}
	r.checkServerTLS(field+".tls", s.Tls)
	if !portOK {
		return
	}
	p := strings.ToUpper(s.Port.Protocol)
	tlsProtocol := p == "HTTPS" || p == "TLS"
	switch {
	case tlsProtocol && s.Tls == nil:
		r.errorf(translate.CodeTLSSettings, field+".tls", "add tls with mode SIMPLE and a credentialName",
			"Required value: server must have TLS settings for HTTPS/TLS protocols")
	case !tlsProtocol && s.Tls != nil && isHTTPProtocol(p):
		t := s.Tls
		passthrough := t.Mode == networking.ServerTLSSettings_PASSTHROUGH || t.Mode == networking.ServerTLSSettings_AUTO_PASSTHROUGH
		if !passthrough || t.CaCertificates != "" || t.PrivateKey != "" || t.ServerCertificate != "" {
			r.errorf(translate.CodeTLSSettings, field+".tls", "use protocol HTTPS to terminate TLS; an HTTP server's tls may only set httpsRedirect",
				"server cannot have TLS settings for plain text HTTP ports")
		}
	case !tlsProtocol && s.Tls != nil:
		r.errorf(translate.CodeTLSSettings, field+".tls", "use protocol TLS or HTTPS", "server cannot have TLS settings for non HTTPS/TLS ports")
	}
}

// checkServerPort reports whether the port is usable for the protocol
// checks that follow.
func (r *reporter) checkServerPort(field string, p *networking.Port, unix bool) bool {
	if p == nil {
		r.required(field, "", "port is required")
		return false
	}
	ok := true
	if !knownProtocol(p.Protocol) {
		r.errorf(translate.CodeServerProtocol, field+".protocol", "use HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, TLS or TCP",
			"invalid protocol %q, supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, MYSQL, TCP", p.Protocol)
		ok = false
	}
	if p.Number > 0 || !unix {
		if p.Number == 0 || p.Number > 65535 {
			r.invalid(translate.CodeServerPort, field+".number", "", p.Number, "port must be between 1-65535")
			ok = false
		}
	}
	if p.TargetPort > 0 {
		r.errorf(CodeExclusive, field+".targetPort", "remove it; the Service in front of the gateway maps ports",
			"targetPort has no impact on Gateways")
	}
	if p.Name == "" {
		r.required(field+".name", "name the port, e.g. http or https-443", "port name must be set")
	}
	return ok
}

// checkServerTLS is Istio's validateTLSOptions plus the CRD rules on the
// credential fields.
func (r *reporter) checkServerTLS(field string, t *networking.ServerTLSSettings) {
	if t == nil {
		return
	}
	sources := 0
	for _, set := range []bool{t.CredentialName != "", len(t.CredentialNames) > 0, len(t.TlsCertificates) > 0} {
		if set {
			sources++
		}
	}
	if sources > 1 {
		r.errorf(CodeExclusive, field, "keep one of them",
			"only one of credentialName, credentialNames or tlsCertificates can be set")
	}
	switch t.Mode {
	case networking.ServerTLSSettings_ISTIO_MUTUAL:
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"serverCertificate", t.ServerCertificate != ""},
			{"privateKey", t.PrivateKey != ""},
			{"caCertificates", t.CaCertificates != ""},
			{"credentialName", t.CredentialName != ""},
		} {
			if f.set {
				r.errorf(translate.CodeTLSSettings, field+"."+f.name, "ISTIO_MUTUAL uses the gateway's mesh certificate; remove it",
					"ISTIO_MUTUAL TLS cannot have associated %s", f.name)
			}
		}
		return
	case networking.ServerTLSSettings_SIMPLE, networking.ServerTLSSettings_MUTUAL, networking.ServerTLSSettings_OPTIONAL_MUTUAL:
		if t.CaCrl != "" && t.CredentialName != "" {
			r.errorf(translate.CodeTLSSettings, field+".caCrl", "put the CRL in the credential's Secret",
				"CRL is not supported with credentialName. CRL has to be specified in the credential")
		}
		if t.CaCrl != "" && t.Mode == networking.ServerTLSSettings_SIMPLE {
			r.errorf(translate.CodeTLSSettings, field+".caCrl", "", "CRL is not supported with SIMPLE TLS")
		}
		if sources > 0 {
			return
		}
		mode := "SIMPLE"
		if t.Mode != networking.ServerTLSSettings_SIMPLE {
			mode = "MUTUAL"
		}
		hint := "set credentialName to a kubernetes.io/tls Secret, or serverCertificate and privateKey"
		if t.ServerCertificate == "" {
			r.errorf(translate.CodeTLSSettings, field+".serverCertificate", hint, "%s TLS requires a server certificate", mode)
		}
		if t.PrivateKey == "" {
			r.errorf(translate.CodeTLSSettings, field+".privateKey", hint, "%s TLS requires a private key", mode)
		}
		if mode == "MUTUAL" && t.CaCertificates == "" {
			r.errorf(translate.CodeTLSSettings, field+".caCertificates", "set caCertificates to the CA that signs client certificates",
				"MUTUAL TLS requires a client CA bundle")
		}
	}
}

func (r *reporter) checkUnixAddress(field, addr string) {
	switch {
	case addr == "":
		r.errorf(CodeAddress, field, "", "unix address must not be empty")
	case strings.HasPrefix(addr, "@"):
	case !strings.HasPrefix(addr, "/") || strings.HasSuffix(addr, "/"):
		r.errorf(CodeAddress, field, "", "%s is not an absolute path to a file", addr)
	}
}

// isHTTPProtocol is Istio's Instance.IsHTTP: the protocols served as HTTP.
func isHTTPProtocol(p string) bool {
	switch strings.ToUpper(p) {
	case "HTTP", "HTTP2", "GRPC", "GRPC-WEB", "HTTP_PROXY":
		return true
	}
	return false
}
