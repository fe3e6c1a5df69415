package validate

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
)

// The syntax rules below are Istio's (pkg/config/validation/agent and
// pkg/config/labels), which in turn are Kubernetes' DNS-1123 and label
// rules. They are written out here rather than imported because Istio's
// module pulls in most of Istio.

var (
	// dns1123Label is Istio's DNS1123LabelFmt, which unlike Kubernetes'
	// accepts upper case: host names compare case-insensitively.
	dns1123Label = regexp.MustCompile(`^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$`)
	// wildcardLabel is a DNS label optionally preceded by "*" or "*-", or
	// "*" alone: Istio allows a wildcard only in the first label, and
	// partial ones such as "*x" or "*-x" there.
	wildcardLabel = regexp.MustCompile(`^(\*|(\*|\*-)?[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)$`)
	labelName     = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
	// headerName is Istio's validHeaderRegex for match and CORS headers.
	headerName = regexp.MustCompile(`^[-_A-Za-z0-9]+$`)
)

func isDNS1123Label(s string) bool { return len(s) <= 63 && dns1123Label.MatchString(s) }

// validateDNSLabels checks the labels after the first of a domain: each a
// DNS-1123 label, the last one not all digits, a trailing dot allowed.
func validateDNSLabels(domain, rest string) error {
	parts := strings.Split(rest, ".")
	tld := parts[len(parts)-1]
	if _, err := strconv.Atoi(tld); err == nil {
		return fmt.Errorf("domain name %q invalid (top level domain %q cannot be all-numeric)", domain, tld)
	}
	for i, l := range parts {
		if i == len(parts)-1 && l == "" {
			return nil
		}
		if !isDNS1123Label(l) {
			return fmt.Errorf("domain name %q invalid (label %q invalid)", domain, l)
		}
	}
	return nil
}

// validateWildcardDomain is Istio's ValidateWildcardDomain: a DNS name
// whose first label may be a wildcard.
func validateWildcardDomain(domain string) error {
	switch {
	case domain == "":
		return fmt.Errorf("empty domain name not allowed")
	case len(domain) > 255:
		return fmt.Errorf("domain name %q too long (max 255)", domain)
	}
	first, rest, more := strings.Cut(domain, ".")
	if len(first) > 63 || !wildcardLabel.MatchString(first) {
		return fmt.Errorf("domain name %q invalid (label %q invalid)", domain, first)
	}
	if more {
		return validateDNSLabels(domain, rest)
	}
	return nil
}

// validateFQDN is a domain without wildcards.
func validateFQDN(domain string) error {
	if strings.Contains(domain, "*") {
		return fmt.Errorf("domain name %q must not contain a wildcard", domain)
	}
	return validateWildcardDomain(domain)
}

// validateGatewayHost is Istio's ValidateNamespaceSlashWildcardHostname
// for a Gateway server host: "[namespace/]dnsName" where the namespace is
// "*", "." or a DNS label.
func validateGatewayHost(h string) error {
	ns, name, ok := strings.Cut(h, "/")
	if !ok {
		return validateWildcardDomain(h)
	}
	if ns == "" || name == "" {
		return fmt.Errorf("config namespace and dnsName in host entry cannot be empty")
	}
	if ns != "*" && ns != "." && !isDNS1123Label(ns) {
		return fmt.Errorf("invalid namespace value %q in gateway", ns)
	}
	return validateWildcardDomain(name)
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

func isCIDR(s string) bool {
	_, err := netip.ParsePrefix(s)
	return err == nil
}

// validateLabelKey is a Kubernetes qualified name: an optional DNS
// subdomain prefix and "/", then a name of at most 63 characters.
func validateLabelKey(k string) error {
	prefix, name, ok := strings.Cut(k, "/")
	if !ok {
		name, prefix = prefix, ""
	} else if prefix == "" || len(prefix) > 253 || validateFQDN(prefix) != nil {
		return fmt.Errorf("label key %q: invalid prefix %q", k, prefix)
	}
	if name == "" || len(name) > 63 || !labelName.MatchString(name) {
		return fmt.Errorf("label key %q: the name part must be 63 characters or less, alphanumeric, '-', '_' or '.', and start and end with an alphanumeric", k)
	}
	return nil
}

func validateLabelValue(v string) error {
	if v == "" {
		return nil
	}
	if len(v) > 63 || !labelName.MatchString(v) {
		return fmt.Errorf("label value %q must be 63 characters or less, alphanumeric, '-', '_' or '.', and start and end with an alphanumeric", v)
	}
	return nil
}

// checkLabels checks a label set (subset labels, endpoint labels) with
// Kubernetes label syntax, as Istio's labels.Instance.Validate does.
func (r *reporter) checkLabels(field string, labels map[string]string) {
	for _, k := range sortedKeys(labels) {
		if err := validateLabelKey(k); err != nil {
			r.errorf(CodeSelector, key(field, k), "", "%v", err)
		}
		if err := validateLabelValue(labels[k]); err != nil {
			r.errorf(CodeSelector, key(field, k), "", "%v", err)
		}
	}
}

// checkSelector checks a workload selector's labels: no empty keys and
// no wildcards, which Istio rejects because selectors match exactly.
func (r *reporter) checkSelector(field string, labels map[string]string) {
	for _, k := range sortedKeys(labels) {
		v := labels[k]
		switch {
		case k == "":
			r.errorf(CodeSelector, key(field, k), "", "empty key is not supported in selector")
		case strings.Contains(k, "*") || strings.Contains(v, "*"):
			r.errorf(CodeSelector, key(field, k), "list the exact label values; selectors do not match patterns",
				"wildcard is not supported in selector: %q", k+"="+v)
		}
	}
}

// checkDuration enforces the CRD rule on every Istio duration field.
func (r *reporter) checkDuration(field string, d *durationpb.Duration) {
	if d == nil {
		return
	}
	if v := d.AsDuration(); v < time.Millisecond {
		r.invalid(CodeDuration, field, "use a duration such as 100ms or 5s", v, "must be a valid duration greater than 1ms")
	}
}

// checkPort enforces 1-65535 on a port number.
func (r *reporter) checkPort(field string, n uint32) {
	if n == 0 || n > 65535 {
		r.invalid(CodeRange, field, "", n, "port must be between 1-65535")
	}
}

// checkExportTo is Istio's validateExportTo: each entry ".", "*", "~"
// (ServiceEntries only) or a namespace name, without duplicates, and "*"
// or "~" only alone.
func (r *reporter) checkExportTo(field, namespace string, exportTo []string, serviceEntry bool) {
	seen := map[string]bool{}
	for i, e := range exportTo {
		f := index(field, i)
		k := e
		if e == "." {
			k = namespace
		}
		switch {
		case seen[k] && k != e:
			r.errorf(CodeExportTo, f, "", "duplicate entries in exportTo: . and current namespace %s", namespace)
			continue
		case seen[k]:
			r.duplicate(f, "", e)
			continue
		case e == "~" && !serviceEntry:
			r.errorf(CodeExportTo, f, "", "exportTo ~ is only allowed for ServiceEntries")
			continue
		case e != "*" && e != "~" && e != "." && !isDNS1123Label(e):
			r.errorf(CodeExportTo, f, `use ".", "*" or a namespace name`, "invalid exportTo value %q", e)
			continue
		}
		seen[k] = true
	}
	if seen["*"] && len(exportTo) > 1 {
		r.errorf(CodeExportTo, field, "", "cannot have both public (*) and non-public exportTo values for a resource")
	}
	if seen["~"] && len(exportTo) > 1 {
		r.errorf(CodeExportTo, field, "", "cannot export service entry to no one (~) and someone")
	}
}

// protocols are the names Istio's protocol.Parse knows (case-insensitive).
var protocols = map[string]bool{
	"TCP": true, "UDP": true, "GRPC": true, "GRPC-WEB": true, "HTTP": true, "HTTP_PROXY": true,
	"HTTP2": true, "HTTPS": true, "TLS": true, "MONGO": true, "REDIS": true, "MYSQL": true,
}

func knownProtocol(p string) bool { return protocols[strings.ToUpper(p)] }

// portNameKey is the CRD's rule for the keys of an endpoint's ports.
var portNameKey = regexp.MustCompile(`^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$`)

// gatewaySemantics reports whether Istio generated the object from
// Kubernetes Gateway API resources. Istio relaxes its checks for those
// (their names join several names with "~"), and so does validation.
func gatewaySemantics(annotations map[string]string) bool {
	if annotations["internal.istio.io/gateway-semantics"] == "gateway" ||
		annotations["internal.istio.io/route-semantics"] == "gateway" {
		return true
	}
	_, generated := annotations["internal.istio.io/parents"]
	return generated
}
