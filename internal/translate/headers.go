package translate

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
	networkingv1 "istio.io/api/networking/v1"
)

// envoyVariable finds an Envoy substitution such as
// %DOWNSTREAM_REMOTE_ADDRESS% or %REQ(x-id)% in a header value; Envoy
// expands them in header operations, meshgate does not.
var envoyVariable = regexp.MustCompile(`%[A-Z][A-Z0-9_]*(\([^)]*\))?%`)

// isAuthorityHeader reports whether a header operation name means the
// request authority: Istio turns a `set` or `add` of host or :authority
// into an authority rewrite.
func isAuthorityHeader(name string) bool { return name == "host" || name == ":authority" }

// compileHeaders translates a headers block (of a route or of a
// destination). It returns the operations, the authority a request set or
// add of host or :authority asks for ("" if none), and false when a
// header name is invalid. Names are lower-cased and every list is sorted
// by name, so the output does not depend on map order.
func (b *builder) compileHeaders(vs *resource.VirtualService, field string, in *networkingv1.Headers) (*snapshot.Headers, string, bool) {
	req, authority, ok := b.headerOps(vs, field+".request", in.GetRequest(), true)
	resp, _, good := b.headerOps(vs, field+".response", in.GetResponse(), false)
	if !ok || !good {
		return nil, "", false
	}
	if req == nil && resp == nil {
		return nil, authority, true
	}
	return &snapshot.Headers{Request: req, Response: resp}, authority, true
}

// headerOps translates one direction. As in Istio, host and pseudo-headers
// (":"-prefixed) never appear in the operations: a request `set` or `add`
// of host or :authority becomes the returned authority (a `set` wins over
// an `add`), and every other use of them is ignored with a warning.
func (b *builder) headerOps(vs *resource.VirtualService, field string, in *networkingv1.Headers_HeaderOperations, request bool) (*snapshot.HeaderOps, string, bool) {
	if in == nil {
		return nil, "", true
	}
	ok := true
	out := &snapshot.HeaderOps{}
	authorities := map[string]string{}
	for _, op := range []struct {
		name string
		m    map[string]string
		into *[]snapshot.Header
	}{{"set", in.Set, &out.Set}, {"add", in.Add, &out.Add}} {
		seen := map[string]bool{}
		for _, key := range sortedKeys(op.m) {
			kfield := resource.JoinKey(field+"."+op.name, key)
			name := strings.ToLower(key)
			value := op.m[key]
			switch {
			case request && isAuthorityHeader(name):
				if prev, dup := authorities[op.name]; dup && prev != value {
					b.report(&vs.Meta, diag.Warning, CodeAuthority, kfield,
						fmt.Sprintf("host and :authority are both given; %q is used", value), "give only one")
				}
				authorities[op.name] = value
				continue
			case isAuthorityHeader(name) || strings.HasPrefix(name, ":"):
				b.report(&vs.Meta, diag.Warning, CodeHeaderIgnored, kfield,
					fmt.Sprintf("%s cannot be changed here; the operation is ignored, as in Istio", name), "")
				continue
			case !validHeaderName(name):
				b.report(&vs.Meta, diag.Error, CodeHeaders, kfield,
					fmt.Sprintf("%q is not a valid header name; the route is dropped", key), "")
				ok = false
				continue
			case seen[name]:
				b.report(&vs.Meta, diag.Warning, CodeHeaderIgnored, kfield,
					fmt.Sprintf("header %s is given twice with different capitals; this one is ignored", name), "")
				continue
			}
			seen[name] = true
			if envoyVariable.MatchString(value) {
				b.report(&vs.Meta, diag.Warning, CodeHeaderValue, kfield,
					fmt.Sprintf("Envoy would expand %s; meshgate sends the value as written",
						envoyVariable.FindString(value)), "")
			}
			*op.into = append(*op.into, snapshot.Header{Name: name, Value: value})
		}
	}
	removed := map[string]bool{}
	for i, key := range in.Remove {
		name := strings.ToLower(key)
		rfield := resource.JoinIndex(field+".remove", i)
		switch {
		case isAuthorityHeader(name) || strings.HasPrefix(name, ":"):
			b.report(&vs.Meta, diag.Warning, CodeHeaderIgnored, rfield,
				fmt.Sprintf("%s cannot be removed; the removal is ignored, as in Istio", name), "")
		case !validHeaderName(name):
			b.report(&vs.Meta, diag.Error, CodeHeaders, rfield,
				fmt.Sprintf("%q is not a valid header name; the route is dropped", key), "")
			ok = false
		case !removed[name]:
			removed[name] = true
			out.Remove = append(out.Remove, name)
		}
	}
	sort.Strings(out.Remove)
	for _, list := range [][]snapshot.Header{out.Set, out.Add} {
		sort.SliceStable(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	}

	authority := authorities["set"]
	if add, ok := authorities["add"]; ok {
		if _, set := authorities["set"]; set {
			b.report(&vs.Meta, diag.Warning, CodeAuthority, field+".add",
				fmt.Sprintf("the authority is both set (%q) and added (%q); the set wins, as in Istio", authority, add), "")
		} else {
			authority = add
		}
	}
	if len(out.Set) == 0 && len(out.Add) == 0 && len(out.Remove) == 0 {
		out = nil
	}
	return out, authority, ok
}

// validHeaderName reports whether s is an HTTP field name: a non-empty
// RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
