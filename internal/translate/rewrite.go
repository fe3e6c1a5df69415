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

// compileRewrite translates a rewrite block. Istio's validation wants at
// least one of uri, uriRegexRewrite and authority, and not both uri and
// uriRegexRewrite; a regex rewrite needs both its match and its rewrite.
// The regex is not anchored: like Envoy's regex_rewrite it replaces every
// match in the path.
func (b *builder) compileRewrite(vs *resource.VirtualService, field string, in *networkingv1.HTTPRewrite) (*snapshot.Rewrite, bool) {
	rr := in.UriRegexRewrite
	switch {
	case in.Uri != "" && rr != nil:
		b.report(&vs.Meta, diag.Error, CodeRewrite, field,
			"rewrite sets both uri and uriRegexRewrite; only one is allowed, so the route is dropped", "")
		return nil, false
	case in.Uri == "" && rr == nil && in.Authority == "":
		b.report(&vs.Meta, diag.Error, CodeRewrite, field,
			"rewrite sets none of uri, uriRegexRewrite and authority; the route is dropped", "")
		return nil, false
	}
	out := &snapshot.Rewrite{URI: in.Uri, Authority: in.Authority}
	if rr == nil {
		return out, true
	}
	rfield := field + ".uriRegexRewrite"
	if rr.Match == "" || rr.Rewrite == "" {
		b.report(&vs.Meta, diag.Error, CodeRewrite, rfield,
			"uriRegexRewrite needs both match and rewrite; the route is dropped", "")
		return nil, false
	}
	re, err := regexp.Compile(rr.Match)
	if err != nil {
		b.report(&vs.Meta, diag.Error, CodeRewrite, rfield+".match",
			fmt.Sprintf("regex %q does not compile: %v; the route is dropped", rr.Match, regexpError(err)),
			"use RE2 syntax (no lookaround or backreferences)")
		return nil, false
	}
	tmpl, err := re2Template(rr.Rewrite, re.NumSubexp())
	if err != nil {
		b.report(&vs.Meta, diag.Error, CodeRewrite, rfield+".rewrite",
			fmt.Sprintf("rewrite %q is not a valid substitution: %v; the route is dropped", rr.Rewrite, err),
			`refer to capture groups as \1 to \9 (\0 is the whole match) and write a backslash as \\`)
		return nil, false
	}
	out.URIRegex = &snapshot.RegexRewrite{Match: rr.Match, Replacement: tmpl, Compiled: re}
	return out, true
}

// re2Template converts an RE2 substitution string, the form Envoy's
// regex_rewrite and Istio's uriRegexRewrite.rewrite use (\0 to \9 name the
// whole match and the capture groups, \\ is a backslash), to Go's
// Regexp.Expand template (${0} to ${9}, $$ for a dollar sign). Like RE2,
// it rejects any other escape and a group the pattern does not have.
func re2Template(s string, groups int) (string, error) {
	var out strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '$':
			out.WriteString("$$")
		case '\\':
			if i+1 == len(s) {
				return "", fmt.Errorf("it ends with a lone backslash")
			}
			i++
			n := s[i]
			switch {
			case n == '\\':
				out.WriteByte('\\')
			case n >= '0' && n <= '9':
				if int(n-'0') > groups {
					return "", fmt.Errorf(`\%c refers to group %c, and the match has %d`, n, n, groups)
				}
				out.WriteString("${" + string(n) + "}")
			default:
				return "", fmt.Errorf(`\%c is not a capture group reference`, n)
			}
		default:
			out.WriteByte(c)
		}
	}
	return out.String(), nil
}
