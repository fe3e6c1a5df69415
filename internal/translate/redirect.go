package translate

import (
	"fmt"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
	networkingv1 "istio.io/api/networking/v1"
)

// maxDirectResponseBody is Envoy's max_direct_response_body_size_bytes as
// Istio configures it: 1 MiB.
const maxDirectResponseBody = 1 << 20

// Values of snapshot.Redirect.DerivePort.
const (
	deriveProtocolDefault = "FROM_PROTOCOL_DEFAULT"
	deriveRequestPort     = "FROM_REQUEST_PORT"
)

// redirectCodeSupported reports whether Envoy can send a redirect code (0
// is the default, 301).
func redirectCodeSupported(code uint32) bool {
	switch code {
	case 0, 301, 302, 303, 307, 308:
		return true
	}
	return false
}

// checkRedirect applies Istio's validation of a redirect: it must change
// something (uri, prefixRewrite, authority, scheme or port), the scheme
// is http or https, the port a port number; and Envoy's: the code is one
// it can send. prefixRewrite replaces the part a prefix match matched, so
// it needs the route's path matches, if any, to be prefix matches (a
// match without a path condition is Envoy's prefix "/").
func (b *builder) checkRedirect(vs *resource.VirtualService, field string, in *networkingv1.HTTPRedirect, matches []compiledMatch) bool {
	fail := func(sub, message, hint string) bool {
		b.report(&vs.Meta, diag.Error, CodeRedirect, field+sub, message+"; the route is dropped", hint)
		return false
	}
	if !redirectCodeSupported(in.RedirectCode) {
		return fail(".redirectCode", fmt.Sprintf("redirect code %d is not supported", in.RedirectCode),
			"use 301, 302, 303, 307 or 308")
	}
	if in.Uri != "" && in.PrefixRewrite != "" {
		return fail(".prefixRewrite", "only one of uri and prefixRewrite can be set", "")
	}
	if in.Uri == "" && in.PrefixRewrite == "" && in.Authority == "" && in.Scheme == "" && in.RedirectPort == nil {
		return fail("", "the redirect changes nothing: it sets none of uri, prefixRewrite, authority, scheme, port and derivePort", "")
	}
	if in.Scheme != "" && in.Scheme != "http" && in.Scheme != "https" {
		return fail(".scheme", fmt.Sprintf("scheme %q is not http or https", in.Scheme), "")
	}
	if p, ok := in.RedirectPort.(*networkingv1.HTTPRedirect_Port); ok && p.Port > 65535 {
		return fail(".port", fmt.Sprintf("port %d is not a port number", p.Port), "")
	}
	if in.PrefixRewrite != "" {
		for _, m := range matches {
			if u := m.match.URI; u != nil && u.Kind != snapshot.Prefix {
				return fail(".prefixRewrite",
					fmt.Sprintf("prefixRewrite needs a prefix match, and this route matches the path by %s", u.Kind),
					"match the path with prefix, or redirect with uri")
			}
		}
	}
	return true
}

// redirect builds the redirect for a listener. The default code is 301.
// derivePort FROM_REQUEST_PORT is the listener's port, since routes are
// built per port (as Istio does: Envoy cannot read the port itself); as in
// Istio, an explicit or derived port that is the scheme's default (80 for
// http, 443 for https) is left out of Location. The scheme, when the
// redirect keeps the request's, is https on a listener that terminates
// TLS.
func redirect(in *networkingv1.HTTPRedirect, listenerPort uint32, listenerTLS bool) *snapshot.Redirect {
	out := &snapshot.Redirect{
		URI:           in.Uri,
		Authority:     in.Authority,
		Scheme:        in.Scheme,
		Code:          in.RedirectCode,
		PrefixRewrite: in.PrefixRewrite,
	}
	if out.Code == 0 {
		out.Code = 301
	}
	if in.RedirectPort == nil {
		return out
	}
	switch p := in.RedirectPort.(type) {
	case *networkingv1.HTTPRedirect_Port:
		out.Port = p.Port
	case *networkingv1.HTTPRedirect_DerivePort:
		out.DerivePort = deriveProtocolDefault
		if p.DerivePort == networkingv1.HTTPRedirect_FROM_REQUEST_PORT {
			out.DerivePort = deriveRequestPort
			out.Port = listenerPort
		}
	}
	scheme := in.Scheme
	if scheme == "" {
		scheme = "http"
		if listenerTLS {
			scheme = "https"
		}
	}
	if (out.Port == 80 && scheme == "http") || (out.Port == 443 && scheme == "https") {
		out.Port = 0
	}
	return out
}

// directResponse checks and translates a directResponse: a status Istio
// accepts (200 to 599) and a body within Envoy's 1 MiB limit.
func (b *builder) directResponse(vs *resource.VirtualService, field string, in *networkingv1.HTTPDirectResponse) *snapshot.DirectResponse {
	if in.Status < 200 || in.Status > 599 {
		b.report(&vs.Meta, diag.Error, CodeDirectResponse, field+".status",
			fmt.Sprintf("status %d is not between 200 and 599; the route is dropped", in.Status), "")
		return nil
	}
	out := &snapshot.DirectResponse{Status: in.Status}
	switch body := in.GetBody().GetSpecifier().(type) {
	case *networkingv1.HTTPBody_String_:
		out.Body = []byte(body.String_)
	case *networkingv1.HTTPBody_Bytes:
		out.Body = append([]byte(nil), body.Bytes...)
	}
	if len(out.Body) > maxDirectResponseBody {
		b.report(&vs.Meta, diag.Error, CodeDirectResponse, field+".body",
			fmt.Sprintf("the body is %d bytes, over the 1 MiB limit; the route is dropped", len(out.Body)), "")
		return nil
	}
	return out
}
