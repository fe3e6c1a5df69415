package translate

import (
	"fmt"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
	networkingv1 "istio.io/api/networking/v1"
)

// grpcStatusNames are the gRPC status names an abort may use (Istio's
// validation accepts exactly the canonical codes).
var grpcStatusNames = map[string]bool{
	"OK": true, "CANCELLED": true, "UNKNOWN": true, "INVALID_ARGUMENT": true,
	"DEADLINE_EXCEEDED": true, "NOT_FOUND": true, "ALREADY_EXISTS": true,
	"PERMISSION_DENIED": true, "RESOURCE_EXHAUSTED": true, "FAILED_PRECONDITION": true,
	"ABORTED": true, "OUT_OF_RANGE": true, "UNIMPLEMENTED": true, "INTERNAL": true,
	"UNAVAILABLE": true, "DATA_LOSS": true, "UNAUTHENTICATED": true,
}

// compileFault translates a fault block. As in Istio, a delay or abort
// without a percentage is injected into 0% of requests (the deprecated
// integer `percent` of a delay still counts), so it is left out and
// reported; exponentialDelay and http2Error are not supported (Istio
// does not translate them either). The result is nil when nothing would
// be injected.
func (b *builder) compileFault(vs *resource.VirtualService, field string, in *networkingv1.HTTPFaultInjection) (*snapshot.FaultPolicy, bool) {
	if in.Delay == nil && in.Abort == nil {
		b.report(&vs.Meta, diag.Error, CodeFault, field,
			"fault has neither a delay nor an abort; the route is dropped", "")
		return nil, false
	}
	out := &snapshot.FaultPolicy{}
	ok := true
	if d := in.Delay; d != nil {
		delay, good := b.faultDelay(vs, field+".delay", d)
		out.Delay, ok = delay, ok && good
	}
	if a := in.Abort; a != nil {
		abort, good := b.faultAbort(vs, field+".abort", a)
		out.Abort, ok = abort, ok && good
	}
	if !ok || (out.Delay == nil && out.Abort == nil) {
		return nil, ok
	}
	return out, true
}

func (b *builder) faultDelay(vs *resource.VirtualService, field string, in *networkingv1.HTTPFaultInjection_Delay) (*snapshot.FaultDelay, bool) {
	percent, ok := 0.0, true
	switch {
	case in.Percentage != nil:
		percent, ok = b.checkPercent(vs, field+".percentage", CodeFault, in.Percentage)
	case in.Percent < 0 || in.Percent > 100: // deprecated, still honoured
		b.report(&vs.Meta, diag.Error, CodeFault, field+".percent",
			fmt.Sprintf("percent %d is not within [0, 100]; the route is dropped", in.Percent), "use percentage.value instead")
		ok = false
	default:
		percent = float64(in.Percent)
	}
	var out *snapshot.FaultDelay
	switch t := in.HttpDelayType.(type) {
	case *networkingv1.HTTPFaultInjection_Delay_FixedDelay:
		if problem := durationProblem(t.FixedDelay); problem != "" {
			b.report(&vs.Meta, diag.Error, CodeFault, field+".fixedDelay",
				fmt.Sprintf("fixedDelay %s; the route is dropped", problem), "")
			return nil, false
		}
		out = &snapshot.FaultDelay{Duration: t.FixedDelay.AsDuration(), Percent: percent}
	case *networkingv1.HTTPFaultInjection_Delay_ExponentialDelay:
		b.report(&vs.Meta, diag.Warning, CodeFaultIgnored, field+".exponentialDelay",
			"exponentialDelay is not supported (Istio does not support it either); no delay is injected", "use fixedDelay")
		return nil, ok
	default:
		b.report(&vs.Meta, diag.Warning, CodeFaultIgnored, field,
			"the delay has no fixedDelay; no delay is injected", "")
		return nil, ok
	}
	if !ok {
		return nil, false
	}
	if in.Percentage == nil && in.Percent == 0 {
		b.report(&vs.Meta, diag.Warning, CodeFaultIgnored, field+".percentage",
			"the delay has no percentage, and Istio's default is 0%, so no request is delayed",
			"set percentage.value, e.g. 100")
		return nil, true
	}
	if percent == 0 {
		return nil, true
	}
	return out, true
}

func (b *builder) faultAbort(vs *resource.VirtualService, field string, in *networkingv1.HTTPFaultInjection_Abort) (*snapshot.FaultAbort, bool) {
	percent, ok := 0.0, true
	if in.Percentage != nil {
		percent, ok = b.checkPercent(vs, field+".percentage", CodeFault, in.Percentage)
	}
	out := &snapshot.FaultAbort{Percent: percent}
	switch t := in.ErrorType.(type) {
	case *networkingv1.HTTPFaultInjection_Abort_HttpStatus:
		if t.HttpStatus < 200 || t.HttpStatus > 599 {
			b.report(&vs.Meta, diag.Error, CodeFault, field+".httpStatus",
				fmt.Sprintf("httpStatus %d is not within [200, 599]; the route is dropped", t.HttpStatus), "")
			return nil, false
		}
		out.HTTPStatus = uint32(t.HttpStatus)
	case *networkingv1.HTTPFaultInjection_Abort_GrpcStatus:
		if !grpcStatusNames[t.GrpcStatus] {
			b.report(&vs.Meta, diag.Error, CodeFault, field+".grpcStatus",
				fmt.Sprintf("grpcStatus %q is not a gRPC status name; the route is dropped", t.GrpcStatus),
				"use a canonical name such as UNAVAILABLE or NOT_FOUND")
			return nil, false
		}
		out.GRPCStatus = t.GrpcStatus
	case *networkingv1.HTTPFaultInjection_Abort_Http2Error:
		b.report(&vs.Meta, diag.Warning, CodeFaultIgnored, field+".http2Error",
			"http2Error aborts are not supported (Istio does not support them either); no request is aborted", "use httpStatus")
		return nil, ok
	default:
		b.report(&vs.Meta, diag.Warning, CodeFaultIgnored, field,
			"the abort has no httpStatus or grpcStatus; no request is aborted", "")
		return nil, ok
	}
	if !ok {
		return nil, false
	}
	if in.Percentage == nil {
		b.report(&vs.Meta, diag.Warning, CodeFaultIgnored, field+".percentage",
			"the abort has no percentage, and Istio's default is 0%, so no request is aborted",
			"set percentage.value, e.g. 100")
		return nil, true
	}
	if percent == 0 {
		return nil, true
	}
	return out, true
}
