package translate

import (
	"fmt"
	"strings"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
	networkingv1 "istio.io/api/networking/v1"
)

// A root VirtualService route with `delegate` is replaced by the HTTP
// routes of the delegate VirtualService, merged with it (Istio's
// mergeVirtualServicesIfNeeded, described in the VirtualService API):
//   - a delegate is a VirtualService without hosts; it has no gateways,
//     tcp or tls routes, and is only served through a root route;
//   - one level only: a delegate route cannot delegate again;
//   - each delegate match must fall within one of the root's matches
//     (a "strict subset"); the merged match has the conditions of both.
//     A delegate route none of whose matches fits is dropped;
//   - every policy the delegate route leaves unset (timeout, retries,
//     fault, mirrors, rewrite, headers, corsPolicy) comes from the root.
//
// Hosts in the delegate resolve against the delegate's namespace.

// isDelegateVS reports whether a VirtualService is a delegate: Istio
// classifies every VirtualService without hosts as one. Such an object is
// never bound to a gateway on its own.
func isDelegateVS(vs *resource.VirtualService) bool {
	return vs.Spec != nil && len(vs.Spec.Hosts) == 0
}

// expandDelegate compiles the delegate route at field of root into the
// merged routes, in the delegate's order.
func (b *builder) expandDelegate(root *resource.VirtualService, field string, in *networkingv1.HTTPRoute) []*compiledRoute {
	rootMatches, ok := b.compileMatches(root, field, in.Match)
	rootPolicy, good := b.compilePolicy(root, field, in)
	if !ok || !good {
		return nil
	}
	target := b.findDelegate(root, field+".delegate", in.Delegate)
	if target == nil {
		return nil
	}
	key := nsName(&target.Meta)
	var out []*compiledRoute
	for j, d := range target.Spec.Http {
		if d == nil {
			continue
		}
		dfield := resource.JoinIndex("spec.http", j)
		if d.Delegate != nil {
			b.report(&target.Meta, diag.Error, CodeDelegate, dfield+".delegate",
				fmt.Sprintf("this delegate of %s delegates again, and Istio supports one level of delegation; the route is dropped",
					nsName(&root.Meta)),
				"move the routes of the next delegate here")
			continue
		}
		if !b.checkActions(target, dfield, d) {
			continue
		}
		own, ok := b.compileMatches(target, dfield, d.Match)
		if !ok {
			continue
		}
		matches, conflict := mergeMatches(rootMatches, own)
		if conflict {
			b.report(&target.Meta, diag.Warning, CodeDelegateConflict, dfield+".match",
				fmt.Sprintf("no match of this route falls within the matches of the route at %s of %s that delegates to it; the route is dropped",
					field, nsName(&root.Meta)),
				"a delegate route must match a subset of the root route's requests: a longer prefix, the same exact path, more headers")
			continue
		}
		cr := b.compileBody(target, dfield, d, matches)
		if cr == nil {
			continue
		}
		cr.policy = mergePolicy(rootPolicy, cr.policy, d)
		cr.rewrite = cr.policy.finalRewrite()
		b.reportShadowedAuthority(cr)
		cr.matches = matches
		cr.delegate = key
		cr.name = mergedRouteName(in.Name, d.Name)
		if cr.name == "" {
			cr.name = defaultRouteName(target, j)
		}
		out = append(out, cr)
	}
	return out
}

// mergedRouteName is Istio's name for a merged route: the delegate
// route's name, prefixed by the root route's ("root-delegate"), or the
// root's when the delegate route has none.
func mergedRouteName(root, delegate string) string {
	switch {
	case delegate == "":
		return root
	case root == "":
		return delegate
	}
	return root + "-" + delegate
}

// findDelegate looks up the VirtualService a delegate names (its
// namespace defaults to the root's) and checks that it can serve as one.
// Like Istio, a delegate that is missing or not exported to the root's
// namespace drops only the root route; so does one Istio's validation
// would reject (gateways, tcp or tls routes on a delegate).
func (b *builder) findDelegate(root *resource.VirtualService, field string, ref *networkingv1.Delegate) *resource.VirtualService {
	ns := ref.Namespace
	if ns == "" {
		ns = root.Namespace
	}
	name := ns + "/" + ref.Name
	drop := func(why, hint string) *resource.VirtualService {
		b.report(&root.Meta, diag.Warning, CodeDelegate, field, why+"; the route is dropped", hint)
		return nil
	}
	var target *resource.VirtualService
	for _, vs := range b.in.VirtualServices {
		if vs.Namespace == ns && vs.Name == ref.Name {
			target = vs
			break
		}
	}
	switch {
	case target == nil || target.Spec == nil:
		return drop(fmt.Sprintf("the delegate VirtualService %s does not exist", name),
			"name it with delegate.name and delegate.namespace (default: this VirtualService's namespace)")
	case !isDelegateVS(target):
		return drop(fmt.Sprintf("VirtualService %s has hosts, so it is not a delegate", name),
			"a delegate VirtualService has no hosts and no gateways")
	case !exportedToNamespace(target.Spec.ExportTo, b.id.ExportTo.VirtualService, target.Namespace, root.Namespace):
		return drop(fmt.Sprintf("the delegate VirtualService %s is not exported to namespace %s", name, root.Namespace),
			fmt.Sprintf("add %s (or \"*\") to its exportTo", root.Namespace))
	case len(target.Spec.Gateways) > 0:
		return drop(fmt.Sprintf("the delegate VirtualService %s has gateways, which Istio's validation rejects for a delegate", name),
			"remove its gateways: the root VirtualService decides where the routes are served")
	case len(target.Spec.Tcp) > 0 || len(target.Spec.Tls) > 0:
		return drop(fmt.Sprintf("the delegate VirtualService %s has tcp or tls routes, which Istio's validation rejects for a delegate", name), "")
	}
	return target
}

// mergeMatches merges a delegate route's matches into its root route's.
// Without matches on one side the other side's are used. Otherwise every
// delegate match is merged with each root match it does not conflict
// with, and conflict is true when some delegate match fits no root match.
func mergeMatches(root, del []compiledMatch) (out []compiledMatch, conflict bool) {
	switch {
	case len(root) == 0:
		return del, false
	case len(del) == 0:
		return root, false
	}
	for i := range del {
		found := false
		for j := range root {
			if matchesConflict(&root[j], &del[i]) {
				continue
			}
			out = append(out, mergeMatch(&root[j], &del[i]))
			found = true
		}
		if !found {
			return nil, true
		}
	}
	return out, false
}

// matchesConflict reports whether a delegate match does not fall within a
// root match: a condition on the same property that the root's does not
// cover, a different ignoreUriCase or port, a source namespace, label or
// gateway the root excludes.
func matchesConflict(root, leaf *compiledMatch) bool {
	r, l := &root.match, &leaf.match
	if stringConflict(r.URI, l.URI) || stringConflict(r.Scheme, l.Scheme) ||
		stringConflict(r.Method, l.Method) || stringConflict(r.Authority, l.Authority) ||
		headersConflict(r.Headers, l.Headers) || headersConflict(r.WithoutHeaders, l.WithoutHeaders) {
		return true
	}
	for _, q := range l.QueryParams {
		for _, rq := range r.QueryParams {
			if rq.Name == q.Name && stringConflict(&rq.Value, &q.Value) {
				return true
			}
		}
	}
	if r.IgnoreURICase != l.IgnoreURICase || (r.Port > 0 && l.Port > 0 && r.Port != l.Port) {
		return true
	}
	if root.sourceNamespace != "" && leaf.sourceNamespace != root.sourceNamespace {
		return true
	}
	for k, v := range leaf.sourceLabels {
		if rv, ok := root.sourceLabels[k]; ok && rv != v {
			return true
		}
	}
	if len(root.gateways) > 0 && len(leaf.gateways) > 0 {
		for _, g := range leaf.gateways {
			if !containsString(root.gateways, g) {
				return true
			}
		}
	}
	return false
}

func headersConflict(root, leaf []snapshot.HeaderMatch) bool {
	for i := range leaf {
		for j := range root {
			if root[j].Name == leaf[i].Name && stringConflict(&root[j].Value, &leaf[i].Value) {
				return true
			}
		}
	}
	return false
}

// stringConflict reports whether a delegate condition does not narrow a
// root condition on the same property. Either side unset never
// conflicts; a regex or presence test on one side conflicts with any
// condition on the other (the API: "if a root VirtualService matched a
// property by regex, delegates should not have any other matches on the
// same property", and the reverse); an exact root needs the same exact
// leaf; a prefix root needs a leaf prefix or exact path that starts with
// it.
func stringConflict(root, leaf *snapshot.StringMatch) bool {
	if root == nil || leaf == nil {
		return false
	}
	switch root.Kind {
	case snapshot.Exact:
		return leaf.Kind != snapshot.Exact || leaf.Value != root.Value
	case snapshot.Prefix:
		return (leaf.Kind != snapshot.Prefix && leaf.Kind != snapshot.Exact) || !strings.HasPrefix(leaf.Value, root.Value)
	}
	return true
}

// mergeMatch combines a root match and a delegate match within it: the
// delegate's conditions, plus the root's on properties the delegate does
// not constrain. A header, query parameter or source label the delegate
// also sets takes the delegate's value.
func mergeMatch(root, leaf *compiledMatch) compiledMatch {
	out := *leaf
	m := &out.match
	r := &root.match
	m.Name = mergedRouteName(r.Name, leaf.match.Name)
	if m.URI == nil {
		m.URI = r.URI
	}
	if m.Scheme == nil {
		m.Scheme = r.Scheme
	}
	if m.Method == nil {
		m.Method = r.Method
	}
	if m.Authority == nil {
		m.Authority = r.Authority
	}
	m.Headers = mergeHeaderMatches(r.Headers, leaf.match.Headers)
	m.WithoutHeaders = mergeHeaderMatches(r.WithoutHeaders, leaf.match.WithoutHeaders)
	m.QueryParams = mergeQueryMatches(r.QueryParams, leaf.match.QueryParams)
	if m.Port == 0 {
		m.Port = r.Port
	}
	if len(root.sourceLabels) > 0 {
		labels := copyLabels(root.sourceLabels)
		for k, v := range leaf.sourceLabels {
			labels[k] = v
		}
		out.sourceLabels = labels
	}
	if out.sourceNamespace == "" {
		out.sourceNamespace = root.sourceNamespace
	}
	if len(out.gateways) == 0 {
		out.gateways = root.gateways
	}
	out.catchAll = isCatchAll(m)
	return out
}

// mergeHeaderMatches merges two header condition lists by name, the
// second winning, sorted by name like compileMatch's.
func mergeHeaderMatches(root, leaf []snapshot.HeaderMatch) []snapshot.HeaderMatch {
	if len(root) == 0 {
		return leaf
	}
	byName := map[string]snapshot.HeaderMatch{}
	for _, h := range root {
		byName[h.Name] = h
	}
	for _, h := range leaf {
		byName[h.Name] = h
	}
	out := make([]snapshot.HeaderMatch, 0, len(byName))
	for _, name := range sortedKeys(byName) {
		out = append(out, byName[name])
	}
	return out
}

// mergeQueryMatches is mergeHeaderMatches for query parameters.
func mergeQueryMatches(root, leaf []snapshot.QueryMatch) []snapshot.QueryMatch {
	if len(root) == 0 {
		return leaf
	}
	byName := map[string]snapshot.QueryMatch{}
	for _, q := range root {
		byName[q.Name] = q
	}
	for _, q := range leaf {
		byName[q.Name] = q
	}
	out := make([]snapshot.QueryMatch, 0, len(byName))
	for _, name := range sortedKeys(byName) {
		out = append(out, byName[name])
	}
	return out
}
