package validate

import (
	"fmt"
	"strings"

	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/translate"
	networking "istio.io/api/networking/v1alpha3"
)

// gateways reports Gateways that fight over a host on a port, and
// Gateways that share a certificate with another one serving the same
// workloads.
func (a *analysis) gateways() {
	gs := a.b.Gateways
	for i, g := range gs {
		if g.Spec == nil {
			continue
		}
		conflicts := map[string]bool{}
		certs := map[string]bool{}
		var conflictField, certField string
		for j, o := range gs {
			if i == j || o.Spec == nil || !selectorsOverlap(g.Spec.Selector, o.Spec.Selector) {
				continue
			}
			if f, ok := sharedHostOnPort(g, o); ok {
				conflicts[o.Namespace+"/"+o.Name] = true
				if conflictField == "" {
					conflictField = f
				}
			}
			// As istioctl does, the Gateway whose selector is the broader
			// one (a subset of the other's labels) is the one reported:
			// its workloads serve the other's hosts with one certificate.
			if labelsMatch(g.Spec.Selector, o.Spec.Selector) {
				if f, ok := sharedCertificate(g, o); ok {
					certs[o.Namespace+"/"+o.Name] = true
					if certField == "" {
						certField = f
					}
				}
			}
		}
		if len(conflicts) > 0 {
			a.report(&g.Meta, CodeConflictingGateways, conflictField,
				"serve each host and port from one Gateway, or give the Gateways selectors that pick different workloads",
				fmt.Sprintf("Gateways %s also serve this host on this port for workloads this Gateway selects; which server applies depends on their age",
					strings.Join(sortedStrings(conflicts), ", ")))
		}
		if len(certs) > 0 {
			a.report(&g.Meta, CodeDuplicateCertificate, certField,
				"use a certificate per Gateway, or merge the servers into one Gateway",
				fmt.Sprintf("Gateways %s use the same certificate on workloads this Gateway selects; HTTP/2 clients reuse a connection across such hosts and get 404",
					strings.Join(sortedStrings(certs), ", ")))
		}
	}
}

// selectorsOverlap reports whether some workload can carry both label
// sets: no key has different values. Pods are not part of the Bundle, so
// this is the question that can be answered without them.
func selectorsOverlap(a, b map[string]string) bool {
	for k, v := range a {
		if w, ok := b[k]; ok && w != v {
			return false
		}
	}
	return true
}

// sharedHostOnPort finds a server host of g that o also serves on the
// same port number, returning the field of g's host.
func sharedHostOnPort(g, o *resource.Gateway) (string, bool) {
	for i, s := range g.Spec.Servers {
		if s == nil || s.Port == nil {
			continue
		}
		for _, os := range o.Spec.Servers {
			if os == nil || os.Port == nil || os.Port.Number != s.Port.Number {
				continue
			}
			for j, h := range s.Hosts {
				for _, oh := range os.Hosts {
					if serverDNSName(h) == serverDNSName(oh) {
						return index(index("spec.servers", i)+".hosts", j), true
					}
				}
			}
		}
	}
	return "", false
}

// sharedCertificate finds a server of g terminating TLS with a
// certificate (a credentialName or a certificate file) that a server of o
// also uses.
func sharedCertificate(g, o *resource.Gateway) (string, bool) {
	for i, s := range g.Spec.Servers {
		c, field := serverCertificate(s)
		if c == "" {
			continue
		}
		for _, os := range o.Spec.Servers {
			if oc, _ := serverCertificate(os); oc == c {
				return index("spec.servers", i) + ".tls." + field, true
			}
		}
	}
	return "", false
}

func serverCertificate(s *networking.Server) (cert, field string) {
	t := s.GetTls()
	switch {
	case t == nil:
	case t.CredentialName != "":
		return "credential:" + t.CredentialName, "credentialName"
	case t.ServerCertificate != "":
		return "file:" + t.ServerCertificate, "serverCertificate"
	}
	return "", ""
}

// serverDNSName is a server host without its namespace part, lower-case.
func serverDNSName(h string) string {
	if _, name, ok := strings.Cut(h, "/"); ok {
		h = name
	}
	return strings.ToLower(h)
}

// serverAdmits reports whether a server host "[namespace/]dnsName" of a
// Gateway in gwNamespace lets VirtualServices of vsNamespace bind.
func serverAdmits(h, gwNamespace, vsNamespace string) bool {
	ns, _, ok := strings.Cut(h, "/")
	switch {
	case !ok, ns == "*":
		return true
	case ns == ".":
		return gwNamespace == vsNamespace
	}
	return ns == vsNamespace
}

// vsGateways resolves a VirtualService's gateway references: the Gateways
// by "namespace/name" with the index of their reference, and whether it
// is bound to the mesh.
func vsGateways(vs *resource.VirtualService) (refs []gatewayRef, mesh bool) {
	if len(vs.Spec.Gateways) == 0 {
		return nil, true
	}
	seen := map[string]bool{}
	for i, g := range vs.Spec.Gateways {
		if g == "mesh" {
			mesh = true
			continue
		}
		ref := resolveGatewayRef(g, vs.Namespace)
		if !seen[ref] {
			seen[ref] = true
			refs = append(refs, gatewayRef{ref: ref, index: i})
		}
	}
	return refs, mesh
}

type gatewayRef struct {
	ref   string
	index int
}

// resolveGatewayRef is translate's reading of a gateway reference:
// "namespace/name", "./name" or a bare name in the VirtualService's
// namespace, or the legacy "name.namespace[.svc.cluster.local]".
func resolveGatewayRef(ref, vsNamespace string) string {
	if ns, name, ok := strings.Cut(ref, "/"); ok {
		if ns == "." {
			ns = vsNamespace
		}
		return ns + "/" + name
	}
	name, rest, ok := strings.Cut(ref, ".")
	if !ok {
		return vsNamespace + "/" + ref
	}
	ns, _, _ := strings.Cut(rest, ".")
	return ns + "/" + name
}

// vsBinding reports what translate reports for the Gateways that select
// this gateway, for every Gateway: a VirtualService bound to the mesh
// only, a Gateway that does not exist, and Gateways that serve none of
// its hosts.
func (a *analysis) vsBinding(vs *resource.VirtualService) {
	refs, _ := vsGateways(vs)
	if len(vs.Spec.Gateways) == 0 {
		a.report(&vs.Meta, translate.CodeMeshOnly, "spec.gateways", "add gateways: [<namespace>/<gateway>] naming the Gateway it is for",
			"the VirtualService has no gateways, so Istio binds it to the mesh only; no gateway serves it")
	}
	var unserved []string
	for _, r := range refs {
		g := a.gatewayIndex[r.ref]
		if g == nil {
			a.report(&vs.Meta, translate.CodeGatewayNotFound, index("spec.gateways", r.index),
				fmt.Sprintf("name it <namespace>/<name>; a bare name means namespace %s", vs.Namespace),
				fmt.Sprintf("Gateway %s does not exist", r.ref))
			continue
		}
		if !a.gatewayServes(g, vs) {
			unserved = append(unserved, r.ref)
		}
	}
	if len(unserved) > 0 && len(vs.Spec.Hosts) > 0 {
		a.report(&vs.Meta, translate.CodeNoHostMatch, "spec.hosts",
			"a VirtualService host must equal or fall under a server host of each Gateway it names (\"*.example.com\" covers \"a.example.com\"), and the server host's namespace part must admit the VirtualService's namespace",
			fmt.Sprintf("Gateway %s serves none of the hosts %s, so it does not serve this VirtualService",
				strings.Join(unserved, ", "), strings.Join(vs.Spec.Hosts, ", ")))
	}
}

// gatewayServes reports whether a server of g serves one of vs's hosts
// for vs's namespace.
func (a *analysis) gatewayServes(g *resource.Gateway, vs *resource.VirtualService) bool {
	if g.Spec == nil {
		return false
	}
	for _, s := range g.Spec.Servers {
		if s == nil {
			continue
		}
		for _, sh := range s.Hosts {
			if !serverAdmits(sh, g.Namespace, vs.Namespace) {
				continue
			}
			name := serverDNSName(sh)
			for _, h := range vs.Spec.Hosts {
				h = a.resolve(h, vs.Namespace)
				if hostCovers(name, h) || hostCovers(h, name) {
					return true
				}
			}
		}
	}
	return false
}
