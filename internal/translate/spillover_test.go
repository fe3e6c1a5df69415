package translate

import (
	"testing"

	"github.com/meshgate/meshgate/internal/resource"
	networkingv1 "istio.io/api/networking/v1"
)

// TestSpilloverAnnotation checks the annotation's parsing: the first valid
// value among the merged rules wins; invalid values are errors.
func TestSpilloverAnnotation(t *testing.T) {
	rule := func(values ...string) *mergedRule {
		r := &mergedRule{host: "x.example.com"}
		for i, v := range values {
			dr := destinationRuleObj("default", "dr"+string(rune('a'+i)), &networkingv1.DestinationRule{Host: "x.example.com"})
			if v != "-" {
				dr.Annotations = map[string]string{annotationSpillover: v}
			}
			r.members = append(r.members, dr)
		}
		return r
	}
	tests := []struct {
		name   string
		rule   *mergedRule
		want   uint32 // 0: no spillover
		errors int
	}{
		{"no rule", nil, 0, 0},
		{"no annotation", rule("-"), 0, 0},
		{"valid", rule("100"), 100, 0},
		{"zero", rule("0"), 0, 1},
		{"negative", rule("-5"), 0, 1},
		{"not a number", rule("many"), 0, 1},
		{"too large", rule("4294967296"), 0, 1},
		{"padded", rule(" 10"), 0, 1},
		{"first valid wins", rule("bad", "20", "30"), 20, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &builder{reported: map[string]bool{}}
			got := b.spillover(tt.rule)
			var n uint32
			if got != nil {
				n = got.MaxActiveRequestsPerEndpoint
			}
			if n != tt.want || len(b.diags.Errors()) != tt.errors {
				t.Errorf("spillover = %d with %d errors, want %d with %d: %v", n, len(b.diags.Errors()), tt.want, tt.errors, b.diags)
			}
			for _, d := range b.diags.Errors() {
				if d.Field != resource.JoinKey("metadata.annotations", annotationSpillover) {
					t.Errorf("error field = %q", d.Field)
				}
			}
		})
	}
}
