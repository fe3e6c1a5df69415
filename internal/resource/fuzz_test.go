package resource

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzDecodeFile checks that no input makes the decoder panic and that
// every finding can be located: file set, line positive.
func FuzzDecodeFile(f *testing.F) {
	for _, pattern := range []string{"testdata/decode/*", "testdata/load/*.y*ml", "testdata/load/sub/*"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	for _, tt := range limitCases() {
		if tt.name != "alias bomb" { // slow by design; mutating it wastes the fuzzer's time
			f.Add([]byte(tt.doc))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var b Bundle
		for _, d := range DecodeFile("fuzz.yaml", data, &b) {
			if d.Origin.File != "fuzz.yaml" || d.Origin.Line <= 0 {
				t.Errorf("diagnostic without a location: %+v", d)
			}
			if d.Origin.Line > strings.Count(string(data), "\n")+1 {
				t.Errorf("diagnostic past the end of the input: %+v", d)
			}
		}
		for _, m := range metas(&b) {
			// Only cluster-scoped kinds (Namespace) have no namespace.
			if m.Origin.File != "fuzz.yaml" || m.Origin.Line <= 0 || m.Name == "" ||
				(m.Namespace == "") != (m.Kind == KindNamespace) {
				t.Errorf("object without identity or origin: %+v", m)
			}
		}
		for _, o := range b.Gateways {
			if o.Spec == nil {
				t.Errorf("%s has a nil spec", o.Key())
			}
		}
		for _, o := range b.VirtualServices {
			if o.Spec == nil {
				t.Errorf("%s has a nil spec", o.Key())
			}
		}
	})
}

type limitCase struct {
	name string
	doc  string
}

// limitCases are hostile documents that must be rejected quickly.
func limitCases() []limitCase {
	header := "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x}\n"
	// Nine levels of ten aliases each expand to 10^10 nodes.
	var bomb strings.Builder
	bomb.WriteString(header + "spec:\n  hosts: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= 9; i++ {
		prev := fmt.Sprintf("*a%d", i-1)
		fmt.Fprintf(&bomb, "  x%d: &a%d [%s%s]\n", i, i, strings.Repeat(prev+", ", 9), prev)
	}
	return []limitCase{
		{"alias bomb", bomb.String()},
		{"self-reference", header + "spec: &s\n  http: [*s]\n"},
		{"deep nesting", header + "spec:\n  hosts: " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "\n"},
	}
}

// TestDecodeListOfAliases: the items of a List share one budget, so
// repeating an alias of a large object is bounded too.
func TestDecodeListOfAliases(t *testing.T) {
	doc := "apiVersion: v1\nkind: List\nx: &vs {apiVersion: networking.istio.io/v1, kind: VirtualService, " +
		"metadata: {name: x}, spec: {hosts: [" + strings.Repeat("a, ", 500) + "a]}}\n" +
		"items: [*vs" + strings.Repeat(", *vs", 2000) + "]\n"
	var b Bundle
	diags := DecodeFile("list.yaml", []byte(doc), &b)
	if len(diags) == 0 || diags[len(diags)-1].Code != CodeTooComplex {
		t.Errorf("want the list cut short, got %d diagnostics", len(diags))
	}
	if n := len(b.VirtualServices); n == 0 || n > 1000 {
		t.Errorf("decoded %d items, want the budget to stop well short of 2001", n)
	}
}

func TestDecodeLimits(t *testing.T) {
	for _, tt := range limitCases() {
		t.Run(tt.name, func(t *testing.T) {
			var b Bundle
			diags := DecodeFile("limits.yaml", []byte(tt.doc), &b)
			if !diags.HasErrors() || len(keys(&b)) != 0 {
				t.Errorf("want rejection, got objects %v, diagnostics %v", keys(&b), diags)
			}
			t.Log(diags.Error())
		})
	}
}

// TestDecodeRepeatedError checks that a mistake repeated through aliases
// is reported a bounded number of times.
func TestDecodeRepeatedError(t *testing.T) {
	doc := "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x}\nspec:\n" +
		"  tcp: [&r {rout: x}" + strings.Repeat(", *r", 500) + "]\n"
	var b Bundle
	diags := DecodeFile("repeat.yaml", []byte(doc), &b)
	if n := len(diags); n == 0 || n > maxErrors+1 {
		t.Errorf("got %d diagnostics, want 1..%d", n, maxErrors+1)
	}
	if last := diags[len(diags)-1]; last.Code != CodeTooComplex || last.Origin.Line <= 0 {
		t.Errorf("last diagnostic = %v, want a too-many-errors note", last)
	}
}
