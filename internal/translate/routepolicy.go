package translate

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
	"google.golang.org/protobuf/types/known/durationpb"
	networkingv1 "istio.io/api/networking/v1"
)

// routePolicy is what an HTTPRoute asks for around its action, compiled
// once per VirtualService. Fields are left at their zero value when the
// route does not set them; mergePolicy uses the route's own spec to tell
// "unset" from "set to nothing", as Istio's delegate merge does.
type routePolicy struct {
	timeout time.Duration
	// retry is nil when the route has no retries block: Istio's built-in
	// policy then applies (see routeRetry).
	retry *compiledRetry
	fault *snapshot.FaultPolicy
	// mirror is the single `mirror` destination; its share comes from
	// mirrorPercentage, else the deprecated mirrorPercent, else 100%.
	mirror           *compiledMirror
	mirrorPercentage *float64
	mirrorPercent    *float64
	mirrors          []compiledMirror
	// rewrite holds what the rewrite block asks for; headerAuthority is a
	// host or :authority `set` (or, failing that, `add`) in the headers
	// block, which Istio turns into the same authority rewrite.
	rewrite         *snapshot.Rewrite
	headers         *snapshot.Headers
	headerAuthority string
	cors            *snapshot.CORSPolicy
}

// compilePolicy checks and translates the policy fields of the route at
// field. ok is false when one of them is invalid; the route is then
// dropped, as Istio's validation would reject the VirtualService.
func (b *builder) compilePolicy(vs *resource.VirtualService, field string, in *networkingv1.HTTPRoute) (p *routePolicy, ok bool) {
	p = &routePolicy{}
	ok = true
	keep := func(good bool) { ok = ok && good }
	if in.Timeout != nil {
		var good bool
		p.timeout, good = b.routeTimeout(vs, field+".timeout", in.Timeout)
		keep(good)
	}
	if in.Retries != nil {
		var good bool
		p.retry, good = b.compileRetry(vs, field+".retries", in.Retries)
		keep(good)
	}
	if in.Fault != nil {
		var good bool
		p.fault, good = b.compileFault(vs, field+".fault", in.Fault)
		keep(good)
	}
	keep(b.compileMirrors(vs, field, in, p))
	if in.Rewrite != nil {
		var good bool
		p.rewrite, good = b.compileRewrite(vs, field+".rewrite", in.Rewrite)
		keep(good)
	}
	if in.Headers != nil {
		var good bool
		p.headers, p.headerAuthority, good = b.compileHeaders(vs, field+".headers", in.Headers)
		keep(good)
	}
	if in.CorsPolicy != nil {
		var good bool
		p.cors, good = b.compileCORS(vs, field+".corsPolicy", in.CorsPolicy)
		keep(good)
	}
	if p.rewrite != nil && p.rewrite.Authority != "" && p.headerAuthority != "" {
		// Istio's validation rejects this ("authority header cannot be set
		// multiple times"); its translation lets the rewrite win.
		b.report(&vs.Meta, diag.Warning, CodeAuthority, field+".headers.request",
			fmt.Sprintf("the authority is rewritten both here (%q) and in rewrite.authority (%q); rewrite.authority wins",
				p.headerAuthority, p.rewrite.Authority),
			"rewrite the authority in one place; Istio's validation rejects both")
	}
	return p, ok
}

// mergePolicy is the policy of a delegate route merged into its root
// route: every field the delegate route leaves unset is taken from the
// root route (Istio's delegate merge, field by field).
func mergePolicy(root, del *routePolicy, delIn *networkingv1.HTTPRoute) *routePolicy {
	out := *del
	if delIn.Timeout == nil {
		out.timeout = root.timeout
	}
	if delIn.Retries == nil {
		out.retry = root.retry
	}
	if delIn.Fault == nil {
		out.fault = root.fault
	}
	if delIn.Mirror == nil {
		out.mirror = root.mirror
	}
	if delIn.MirrorPercentage == nil {
		out.mirrorPercentage = root.mirrorPercentage
	}
	if delIn.MirrorPercent == nil { // deprecated, still honoured
		out.mirrorPercent = root.mirrorPercent
	}
	if delIn.Mirrors == nil {
		out.mirrors = root.mirrors
	}
	if delIn.Rewrite == nil {
		out.rewrite = root.rewrite
	}
	if delIn.Headers == nil {
		out.headers, out.headerAuthority = root.headers, root.headerAuthority
	}
	if delIn.CorsPolicy == nil {
		out.cors = root.cors
	}
	return &out
}

// finalRewrite is the rewrite a forwarding route applies: the rewrite
// block, with the authority from the headers block when the rewrite sets
// none (Istio: rewrite.authority takes precedence over a header set).
func (p *routePolicy) finalRewrite() *snapshot.Rewrite {
	if p.headerAuthority == "" || (p.rewrite != nil && p.rewrite.Authority != "") {
		return p.rewrite
	}
	out := snapshot.Rewrite{Authority: p.headerAuthority}
	if p.rewrite != nil {
		out.URI, out.URIRegex = p.rewrite.URI, p.rewrite.URIRegex
	}
	return &out
}

// forwardingOnly lists the settings of a route that only act when it
// forwards: Istio applies timeout, retries, mirrors and rewrite in the
// route action, which a redirect or direct response does not have.
func forwardingOnly(in *networkingv1.HTTPRoute) []string {
	var set []string
	if in.Timeout != nil {
		set = append(set, "timeout")
	}
	if in.Retries != nil {
		set = append(set, "retries")
	}
	if in.Mirror != nil || len(in.Mirrors) > 0 {
		set = append(set, "mirror")
	}
	if in.Rewrite != nil {
		set = append(set, "rewrite")
	}
	return set
}

// checkActionPolicy reports policy settings that do not fit the route's
// action. It returns false when the route must be dropped: Istio's
// validation rejects rewrite and fault on a redirect route.
func (b *builder) checkActionPolicy(vs *resource.VirtualService, field string, in *networkingv1.HTTPRoute) bool {
	ok := true
	if in.Redirect != nil {
		if in.Rewrite != nil {
			b.report(&vs.Meta, diag.Error, CodeRewrite, field+".rewrite",
				"rewrite cannot be used with redirect; the route is dropped", "rewrite the redirect's uri or authority instead")
			ok = false
		}
		if in.Fault != nil {
			b.report(&vs.Meta, diag.Error, CodeFault, field+".fault",
				"fault cannot be used with redirect; the route is dropped", "")
			ok = false
		}
	}
	if in.Redirect == nil && in.DirectResponse == nil {
		return ok
	}
	var ignored []string
	for _, s := range forwardingOnly(in) {
		if s == "rewrite" && in.Redirect != nil {
			continue // reported above
		}
		ignored = append(ignored, s)
	}
	if len(ignored) > 0 {
		action := "directResponse"
		if in.Redirect != nil {
			action = "redirect"
		}
		verb, pronoun := "has", "it is"
		if len(ignored) > 1 {
			verb, pronoun = "have", "they are"
		}
		b.report(&vs.Meta, diag.Warning, CodePolicyIgnored, field,
			fmt.Sprintf("%s %s no effect on a %s route, which does not forward; %s ignored",
				strings.Join(ignored, " and "), verb, action, pronoun), "")
	}
	return ok
}

// routeTimeout translates a route timeout. Istio's default is no timeout
// (it sets Envoy's to 0, overriding Envoy's 15s). Its validation wants at
// least 1ms; "0s", often written to mean "no timeout", is accepted here
// with a warning because it means what the default already does.
func (b *builder) routeTimeout(vs *resource.VirtualService, field string, d *durationpb.Duration) (time.Duration, bool) {
	if d.CheckValid() == nil && d.AsDuration() == 0 {
		b.report(&vs.Meta, diag.Warning, CodeTimeout, field,
			"timeout 0s is rejected by Istio's validation; it means no timeout, which is already the default",
			"remove the timeout")
		return 0, true
	}
	if problem := durationProblem(d); problem != "" {
		b.report(&vs.Meta, diag.Error, CodeTimeout, field,
			fmt.Sprintf("timeout %s; the route is dropped", problem), "use a duration of at least 1ms, such as 5s or 250ms")
		return 0, false
	}
	return d.AsDuration(), true
}

// durationProblem says why d is not a duration Istio's validation
// accepts for timeouts and intervals (ValidateDuration: at least 1ms, in
// whole milliseconds), or returns "".
func durationProblem(d *durationpb.Duration) string {
	if err := d.CheckValid(); err != nil {
		return "is not a valid duration"
	}
	v := d.AsDuration()
	switch {
	case v < time.Millisecond:
		return fmt.Sprintf("%v is under 1ms", v)
	case v%time.Millisecond != 0:
		return fmt.Sprintf("%v is not a whole number of milliseconds", v)
	}
	return ""
}

// checkPercent validates an Istio Percent the way Istio's validation
// does: 0, or within [0.0001, 100] (Envoy counts in millionths, so a
// smaller share would be 0).
func (b *builder) checkPercent(vs *resource.VirtualService, field, code string, p *networkingv1.Percent) (float64, bool) {
	v := p.GetValue()
	if math.IsNaN(v) || v < 0 || v > 100 || (v > 0 && v < 0.0001) {
		b.report(&vs.Meta, diag.Error, code, field,
			fmt.Sprintf("percentage %v is neither 0 nor within [0.0001, 100]; the route is dropped", v), "")
		return 0, false
	}
	return v, true
}
