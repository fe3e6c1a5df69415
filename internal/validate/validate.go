package validate

import (
	"fmt"
	"strings"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/translate"
)

// Run validates b for the gateway described by id and returns the
// findings that prior (what decoding and translate already reported) does
// not already hold for the same code, object and field. The result is
// sorted. id is needed because some checks depend on where the gateway
// runs (short host names complete with its domain suffix).
func Run(b *resource.Bundle, id translate.Identity, prior diag.List) diag.List {
	out := Dedupe(append(Check(b), Analyze(b, id)...), prior)
	out.Sort()
	return out
}

// Check runs the webhook checks on every object of b, in Bundle order.
func Check(b *resource.Bundle) diag.List {
	if b == nil {
		return nil
	}
	var out diag.List
	for _, g := range b.Gateways {
		out = append(out, checkGateway(g)...)
	}
	for _, vs := range b.VirtualServices {
		out = append(out, checkVirtualService(vs)...)
	}
	for _, dr := range b.DestinationRules {
		out = append(out, checkDestinationRule(dr)...)
	}
	for _, se := range b.ServiceEntries {
		out = append(out, checkServiceEntry(se)...)
	}
	for _, we := range b.WorkloadEntries {
		out = append(out, checkWorkloadEntry(we)...)
	}
	return out
}

// Dedupe returns the findings of ds that prior does not already hold for
// the same code, object and field, and drops repeats within ds too. The
// message is not part of the key: two stages describe one condition in
// their own words, and the first one wins.
func Dedupe(ds, prior diag.List) diag.List {
	seen := make(map[string]bool, len(prior)+len(ds))
	for _, d := range prior {
		seen[dedupeKey(d)] = true
	}
	out := make(diag.List, 0, len(ds))
	for _, d := range ds {
		k := dedupeKey(d)
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, d)
	}
	return out
}

func dedupeKey(d diag.Diagnostic) string {
	return strings.Join([]string{d.Code, d.Kind, d.Namespace, d.Name, d.Field}, "\x00")
}

// reporter collects the findings about one object.
type reporter struct {
	m   *resource.Meta
	out diag.List
	// generated is set for objects Istio generated from Gateway API
	// resources, whose names and destinations it does not check.
	generated bool
}

func newReporter(m *resource.Meta) *reporter { return &reporter{m: m} }

func (r *reporter) add(sev diag.Severity, code, field, hint, format string, args ...any) {
	d := r.m.Diag(sev, code, field, fmt.Sprintf(format, args...))
	d.Hint = hint
	r.out = append(r.out, d)
}

// errorf reports something Istio's webhook or CRD schema rejects.
func (r *reporter) errorf(code, field, hint, format string, args ...any) {
	r.add(diag.Error, code, field, hint, format, args...)
}

// warnf reports something Istio accepts that is likely a mistake.
func (r *reporter) warnf(code, field, hint, format string, args ...any) {
	r.add(diag.Warning, code, field, hint, format, args...)
}

// Messages for schema constraints follow the Kubernetes API server's
// wording ("Required value", "Invalid value: ...", "Duplicate value: ..."),
// which is what kubectl prints when Istio's CRD rejects an object, so the
// text reads the same whichever tool found the problem.

func (r *reporter) required(field, hint, what string) {
	r.errorf(CodeRequired, field, hint, "Required value: %s", what)
}

func (r *reporter) invalid(code, field, hint string, value any, why string) {
	r.errorf(code, field, hint, "Invalid value: %v: %s", value, why)
}

func (r *reporter) duplicate(field, hint string, value any) {
	r.errorf(CodeDuplicate, field, hint, "Duplicate value: %v", value)
}

// path helpers, so field paths read like the YAML and match Meta.Fields.
func key(path, k string) string       { return resource.JoinKey(path, k) }
func index(path string, i int) string { return resource.JoinIndex(path, i) }
