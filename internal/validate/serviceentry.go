package validate

import (
	"strings"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/translate"
	networking "istio.io/api/networking/v1alpha3"
)

// checkServiceEntry is Istio's ValidateServiceEntry and the CEL rules of
// the ServiceEntry CRD, whose messages it repeats word for word.
func checkServiceEntry(se *resource.ServiceEntry) diag.List {
	r := newReporter(&se.Meta)
	spec := se.Spec
	if spec == nil {
		r.required("spec", "", "a ServiceEntry needs a spec")
		return r.out
	}
	if len(spec.Hosts) == 0 {
		r.required("spec.hosts", "list the host names the entry defines", "at least one host is required")
	}
	for i, h := range spec.Hosts {
		f := index("spec.hosts", i)
		if h == "*" {
			r.errorf(translate.CodeServiceEntry, f, `name the external hosts, e.g. "*.example.com"`, "hostname cannot be wildcard")
		} else if err := validateWildcardDomain(h); err != nil {
			r.errorf(translate.CodeServiceEntry, f, "", "%v", err)
		}
	}
	resolution := spec.Resolution
	cidrAllowed := resolution == networking.ServiceEntry_NONE || resolution == networking.ServiceEntry_STATIC
	for i, a := range spec.Addresses {
		f := index("spec.addresses", i)
		switch {
		case isCIDR(a) && strings.Contains(a, "/"):
			if !cidrAllowed {
				r.errorf(CodeResolution, f, "use resolution NONE or STATIC, or list single addresses",
					"CIDR addresses are allowed only for NONE/STATIC resolution types")
			}
		case !isIP(a):
			r.invalid(CodeAddress, f, "", a, "must be an IP address or CIDR")
		}
	}
	portNames := map[string]bool{}
	portNumbers := map[uint32]bool{}
	for i, p := range spec.Ports {
		f := index("spec.ports", i)
		if p == nil {
			continue
		}
		switch {
		case p.Name == "":
			r.required(f+".name", "name the port, e.g. http or https", "port name is required")
		case portNames[p.Name]:
			r.duplicate(f+".name", "give each port its own name", p.Name)
		case !isDNS1123Label(p.Name):
			r.invalid(CodeName, f+".name", "port names are DNS labels", p.Name, "invalid port name")
		}
		portNames[p.Name] = true
		if p.Number == 0 || p.Number > 65535 {
			r.invalid(translate.CodeServiceEntry, f+".number", "", p.Number, "port must be between 1-65535")
		}
		if portNumbers[p.Number] && p.Number != 0 {
			r.errorf(CodeDuplicate, f+".number", "", "Duplicate value: %d: port number cannot be duplicated", p.Number)
		}
		portNumbers[p.Number] = true
		if p.TargetPort != 0 {
			r.checkPort(f+".targetPort", p.TargetPort)
		}
		if p.Protocol != "" && !knownProtocol(p.Protocol) {
			r.invalid(CodeProtocol, f+".protocol", "use HTTP, HTTPS, HTTP2, GRPC, TLS or TCP", p.Protocol, "unrecognized protocol")
		}
	}
	if spec.WorkloadSelector != nil {
		if len(spec.Endpoints) > 0 {
			r.errorf(translate.CodeServiceEntry, "spec.workloadSelector", "select WorkloadEntries or list endpoints, not both",
				"only one of WorkloadSelector or Endpoints can be set")
		}
		r.checkSelector("spec.workloadSelector.labels", spec.WorkloadSelector.Labels)
	}
	switch {
	case resolution == networking.ServiceEntry_NONE && len(spec.Endpoints) > 0:
		r.errorf(CodeResolution, "spec.endpoints", "set resolution: STATIC (or DNS) to use endpoints", "NONE mode cannot set endpoints")
	case resolution == networking.ServiceEntry_DNS_ROUND_ROBIN && len(spec.Endpoints) > 1:
		r.errorf(CodeResolution, "spec.endpoints", "use resolution DNS for several endpoints", "DNS_ROUND_ROBIN mode cannot have multiple endpoints")
	}
	for i, ep := range spec.Endpoints {
		f := index("spec.endpoints", i)
		if ep == nil {
			continue
		}
		r.checkWorkload(f, ep)
		if resolution == networking.ServiceEntry_STATIC && ep.Address != "" && !isIP(ep.Address) && !strings.HasPrefix(ep.Address, unixPrefix) {
			r.invalid(CodeAddress, f+".address", "STATIC endpoints are IP addresses; use resolution DNS for host names", ep.Address,
				"endpoint address is not a valid IP address")
		}
		for _, name := range sortedKeys(ep.Ports) {
			if len(spec.Ports) > 0 && !portNames[name] {
				r.errorf(CodeName, key(f+".ports", name), "endpoint ports are keyed by the names in spec.ports",
					"endpoint port %s is not defined by the service entry", name)
			}
		}
	}
	r.checkExportTo("spec.exportTo", se.Namespace, spec.ExportTo, true)
	return r.out
}

func checkWorkloadEntry(we *resource.WorkloadEntry) diag.List {
	r := newReporter(&we.Meta)
	if we.Spec != nil {
		r.checkWorkload("spec", we.Spec)
	}
	return r.out
}

// checkWorkload checks a WorkloadEntry, standalone or inline as a
// ServiceEntry endpoint, with the CRD's CEL rules.
func (r *reporter) checkWorkload(field string, w *networking.WorkloadEntry) {
	switch addr := w.Address; {
	case addr == "" && w.Network == "":
		r.required(field+".address", "set the endpoint's IP address or host name", "Address is required")
	case strings.HasPrefix(addr, unixPrefix):
		r.checkUnixAddress(field+".address", strings.TrimPrefix(addr, unixPrefix))
		if len(w.Ports) > 0 {
			r.errorf(CodeAddress, field+".ports", "", "UDS may not include ports")
		}
	case addr != "" && !isIP(addr) && validateFQDN(addr) != nil:
		r.invalid(CodeAddress, field+".address", "an IP address, a DNS name or unix:///path", addr, "not a valid address")
	}
	for _, name := range sortedKeys(w.Ports) {
		f := key(field+".ports", name)
		if len(name) >= 63 || !portNameKey.MatchString(name) {
			r.invalid(CodeName, f, "", name, "port name must be valid")
		}
		r.checkPort(f, w.Ports[name])
	}
	r.checkLabels(field+".labels", w.Labels)
}
