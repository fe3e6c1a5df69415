package translate

import (
	"fmt"
	"time"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
	networkingv1 "istio.io/api/networking/v1"
)

// corsMethods are the allowMethods Istio's validation accepts: Go's
// method names and "*".
var corsMethods = map[string]bool{
	"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true,
	"DELETE": true, "CONNECT": true, "OPTIONS": true, "TRACE": true, "*": true,
}

// Values of CORSPolicy.UnmatchedPreflights.
const (
	corsForward = "FORWARD"
	corsIgnore  = "IGNORE"
)

// compileCORS translates a corsPolicy with Istio's rules: allowOrigins
// (exact, prefix or regex, none empty) wins over the deprecated
// allowOrigin list of exact origins; methods must be HTTP methods or "*";
// maxAge is at least 1ms and in whole seconds, since Envoy sends it as
// seconds; unmatchedPreflights defaults to FORWARD.
func (b *builder) compileCORS(vs *resource.VirtualService, field string, in *networkingv1.CorsPolicy) (*snapshot.CORSPolicy, bool) {
	ok := true
	out := &snapshot.CORSPolicy{
		AllowOrigins:        []snapshot.StringMatch{},
		AllowMethods:        cloneStrings(in.AllowMethods),
		AllowHeaders:        cloneStrings(in.AllowHeaders),
		ExposeHeaders:       cloneStrings(in.ExposeHeaders),
		AllowCredentials:    in.AllowCredentials.GetValue(),
		UnmatchedPreflights: corsForward,
	}
	if in.UnmatchedPreflights == networkingv1.CorsPolicy_IGNORE {
		out.UnmatchedPreflights = corsIgnore
	}
	if len(in.AllowOrigins) > 0 {
		for i, o := range in.AllowOrigins {
			ofield := resource.JoinIndex(field+".allowOrigins", i)
			if o == nil || stringMatchValue(o) == "" {
				b.report(&vs.Meta, diag.Error, CodeCORS, ofield,
					"an allowOrigins entry needs a non-empty exact, prefix or regex; the route is dropped", "")
				ok = false
				continue
			}
			sm, good := b.stringMatch(vs, ofield, o, false)
			if !good {
				ok = false
				continue
			}
			out.AllowOrigins = append(out.AllowOrigins, anyOriginIfStar(*sm))
		}
	} else {
		for _, o := range in.AllowOrigin { // deprecated, still honoured
			out.AllowOrigins = append(out.AllowOrigins, anyOriginIfStar(snapshot.StringMatch{Kind: snapshot.Exact, Value: o}))
		}
	}
	for i, m := range in.AllowMethods {
		if !corsMethods[m] {
			b.report(&vs.Meta, diag.Error, CodeCORS, resource.JoinIndex(field+".allowMethods", i),
				fmt.Sprintf("%q is not an HTTP method; the route is dropped", m), "methods are upper case, e.g. GET")
			ok = false
		}
	}
	for _, list := range []struct {
		name  string
		names []string
	}{{"allowHeaders", in.AllowHeaders}, {"exposeHeaders", in.ExposeHeaders}} {
		for i, h := range list.names {
			if h != "*" && !validHeaderName(h) {
				b.report(&vs.Meta, diag.Error, CodeCORS, resource.JoinIndex(field+"."+list.name, i),
					fmt.Sprintf("%q is not a valid header name; the route is dropped", h), "")
				ok = false
			}
		}
	}
	if in.MaxAge != nil {
		problem := durationProblem(in.MaxAge)
		if problem == "" && in.MaxAge.AsDuration()%time.Second != 0 {
			problem = fmt.Sprintf("%v is not a whole number of seconds", in.MaxAge.AsDuration())
		}
		if problem != "" {
			b.report(&vs.Meta, diag.Error, CodeCORS, field+".maxAge",
				fmt.Sprintf("maxAge %s; the route is dropped", problem), "")
			ok = false
		} else {
			out.MaxAge = in.MaxAge.AsDuration()
		}
	}
	if !ok {
		return nil, false
	}
	return out, true
}

// stringMatchValue is the string of whichever match type is set.
func stringMatchValue(m *networkingv1.StringMatch) string {
	switch t := m.MatchType.(type) {
	case *networkingv1.StringMatch_Exact:
		return t.Exact
	case *networkingv1.StringMatch_Prefix:
		return t.Prefix
	case *networkingv1.StringMatch_Regex:
		return t.Regex
	}
	return ""
}

// anyOriginIfStar turns an origin matcher that accepts the literal "*"
// into one that accepts every origin: Envoy's CORS filter allows an
// origin when a matcher matches it or matches "*".
func anyOriginIfStar(m snapshot.StringMatch) snapshot.StringMatch {
	star := false
	switch m.Kind {
	case snapshot.Exact:
		star = m.Value == "*"
	case snapshot.Prefix:
		star = m.Value == "" || m.Value == "*"
	case snapshot.Regex:
		star = m.Compiled != nil && m.Compiled.MatchString("*")
	}
	if star {
		return snapshot.StringMatch{Kind: snapshot.Present}
	}
	return m
}

// cloneStrings copies a list, so the snapshot shares nothing mutable
// with the Bundle; nil stays nil.
func cloneStrings(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	return append([]string(nil), in...)
}
