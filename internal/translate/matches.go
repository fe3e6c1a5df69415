package translate

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
	networkingv1 "istio.io/api/networking/v1"
)

// compiledMatch is one HTTPMatchRequest, translated once per
// VirtualService and then filtered per listener.
type compiledMatch struct {
	match snapshot.Match
	// gateways are the per-match gateways as "namespace/name"; when set
	// they replace the VirtualService's gateways for this match.
	gateways []string
	// sourceLabels and sourceNamespace select the workloads the match
	// applies to; at a gateway they are compared with the gateway itself.
	sourceLabels    map[string]string
	sourceNamespace string
	// catchAll is set when the match accepts every request.
	catchAll bool
}

// matchOutcome says what happens to a match that could not be translated.
type matchOutcome int

const (
	matchOK matchOutcome = iota
	// matchNever: the match can never hold here; only it is dropped.
	matchNever
	// matchInvalid: the match is malformed; its route is dropped.
	matchInvalid
)

// ignoredHeaderKey reports whether Istio ignores a key of a headers
// match: "The keys uri, scheme, method, and authority will be ignored."
func ignoredHeaderKey(name string) bool {
	switch name {
	case "uri", "scheme", "method", "authority":
		return true
	}
	return false
}

// compileMatch translates one HTTPMatchRequest at field.
func (b *builder) compileMatch(vs *resource.VirtualService, field string, in *networkingv1.HTTPMatchRequest) (compiledMatch, matchOutcome) {
	out := compiledMatch{
		match: snapshot.Match{
			Name:          in.Name,
			IgnoreURICase: in.IgnoreUriCase,
			Port:          in.Port,
		},
		sourceLabels:    in.SourceLabels,
		sourceNamespace: in.SourceNamespace,
	}
	for _, g := range in.Gateways {
		out.gateways = append(out.gateways, resolveGatewayRef(g, vs.Namespace))
	}

	ok := true
	// An empty uri matcher ("uri: {}") matches every path, as in Istio,
	// which only sets a path matcher for exact, prefix and regex.
	if in.Uri != nil && in.Uri.MatchType != nil {
		out.match.URI, ok = b.stringMatch(vs, field+".uri", in.Uri, false)
	}
	var good bool
	out.match.Scheme, good = b.stringMatch(vs, field+".scheme", in.Scheme, true)
	ok = ok && good
	out.match.Method, good = b.stringMatch(vs, field+".method", in.Method, true)
	ok = ok && good
	out.match.Authority, good = b.stringMatch(vs, field+".authority", in.Authority, true)
	ok = ok && good

	never := false
	for _, pass := range []struct {
		name string
		m    map[string]*networkingv1.StringMatch
		into *[]snapshot.HeaderMatch
	}{
		{"headers", in.Headers, &out.match.Headers},
		{"withoutHeaders", in.WithoutHeaders, &out.match.WithoutHeaders},
	} {
		for _, key := range sortedKeys(pass.m) {
			kfield := resource.JoinKey(field+"."+pass.name, key)
			name := strings.ToLower(key)
			switch {
			case strings.HasPrefix(name, "@request.auth.claims"):
				// Istio matches these against the claims of a validated JWT.
				// meshgate has no request authentication yet, so the
				// condition can never hold: dropping the match keeps the
				// route from matching more than it was meant to.
				b.report(&vs.Meta, diag.Warning, CodeClaimMatch, kfield,
					"matching JWT claims needs request authentication, which meshgate does not support yet; this match never applies", "")
				never = true
				continue
			case pass.name == "headers" && ignoredHeaderKey(name):
				b.report(&vs.Meta, diag.Warning, CodeIgnoredHeader, kfield,
					fmt.Sprintf("header key %q is ignored, as Istio documents", key),
					fmt.Sprintf("use the %s field of the match instead", name))
				continue
			}
			sm, good := b.stringMatch(vs, kfield, pass.m[key], true)
			ok = ok && good
			if sm == nil {
				sm = &snapshot.StringMatch{Kind: snapshot.Present}
			}
			*pass.into = append(*pass.into, snapshot.HeaderMatch{Name: name, Value: *sm})
		}
	}
	for _, key := range sortedKeys(in.QueryParams) {
		sm, good := b.stringMatch(vs, resource.JoinKey(field+".queryParams", key), in.QueryParams[key], true)
		ok = ok && good
		if sm == nil {
			sm = &snapshot.StringMatch{Kind: snapshot.Present}
		}
		out.match.QueryParams = append(out.match.QueryParams, snapshot.QueryMatch{Name: key, Value: *sm})
	}

	switch {
	case !ok:
		return out, matchInvalid
	case never:
		return out, matchNever
	}
	out.catchAll = isCatchAll(&out.match)
	return out, matchOK
}

// stringMatch translates an Istio StringMatch. With present set (headers,
// query parameters, method, scheme, authority), an empty matcher and the
// regex "*" test presence only, as in Istio. Regular expressions are RE2
// and must match the whole value, like Envoy's safe_regex; one that does
// not compile is reported and makes ok false.
func (b *builder) stringMatch(vs *resource.VirtualService, field string, in *networkingv1.StringMatch, present bool) (sm *snapshot.StringMatch, ok bool) {
	if in == nil {
		return nil, true
	}
	switch m := in.MatchType.(type) {
	case *networkingv1.StringMatch_Exact:
		return &snapshot.StringMatch{Kind: snapshot.Exact, Value: m.Exact}, true
	case *networkingv1.StringMatch_Prefix:
		return &snapshot.StringMatch{Kind: snapshot.Prefix, Value: m.Prefix}, true
	case *networkingv1.StringMatch_Regex:
		if present && m.Regex == "*" {
			return &snapshot.StringMatch{Kind: snapshot.Present}, true
		}
		// Compile the expression as written first, so an error quotes
		// the user's text rather than the anchored form.
		_, err := regexp.Compile(m.Regex)
		var re *regexp.Regexp
		if err == nil {
			re, err = regexp.Compile("^(?:" + m.Regex + ")$")
		}
		if err != nil {
			b.report(&vs.Meta, diag.Error, CodeBadRegex, field+".regex",
				fmt.Sprintf("regex %q does not compile: %v; the route is dropped", m.Regex, regexpError(err)),
				"use RE2 syntax (no lookaround or backreferences); it must match the whole value")
			return nil, false
		}
		return &snapshot.StringMatch{Kind: snapshot.Regex, Value: m.Regex, Compiled: re}, true
	}
	return &snapshot.StringMatch{Kind: snapshot.Present}, true
}

// regexpError strips the "error parsing regexp: " prefix Go puts on every
// syntax error, keeping what is wrong.
func regexpError(err error) string {
	return strings.TrimPrefix(err.Error(), "error parsing regexp: ")
}

// isCatchAll reports whether a match accepts every request, Istio's test
// for moving a route to the end of a merged virtual host: the path is
// unconstrained, prefix "/" or regex ".*", and there are no header,
// pseudo-header or query parameter conditions. A port condition does not
// count: it is settled per listener.
func isCatchAll(m *snapshot.Match) bool {
	if m.URI != nil {
		switch {
		case m.URI.Kind == snapshot.Prefix && m.URI.Value == "/":
		case m.URI.Kind == snapshot.Regex && m.URI.Value == ".*":
		default:
			return false
		}
	}
	return m.Scheme == nil && m.Method == nil && m.Authority == nil &&
		len(m.Headers) == 0 && len(m.WithoutHeaders) == 0 && len(m.QueryParams) == 0
}

// appliesTo reports whether the match applies on a listener with the given
// Gateway port, for a route built on behalf of the given Gateways. Istio
// decides this while building the route, not per request: a match with
// gateways applies when one of them is among the route's Gateways; one
// without applies when its sourceLabels are all labels of this gateway
// and its sourceNamespace (if any) is this gateway's namespace.
func (m *compiledMatch) appliesTo(port uint32, gateways map[string]bool, id Identity) bool {
	if m.match.Port != 0 && m.match.Port != port {
		return false
	}
	if len(m.gateways) > 0 {
		for _, g := range m.gateways {
			if gateways[g] {
				return true
			}
		}
		return false
	}
	return labelsMatch(m.sourceLabels, id.Labels) &&
		(m.sourceNamespace == "" || m.sourceNamespace == id.Namespace)
}
