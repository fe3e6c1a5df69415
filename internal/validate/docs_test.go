package validate

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCodesDocumented keeps docs/diagnostics.md in step with the code:
// every diagnostic code declared by resource, translate, gatewayapi and
// validate must have a row there, and no code may be declared twice.
func TestCodesDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "diagnostics.md"))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, pattern := range []string{"../resource/*.go", "../translate/*.go", "../gatewayapi/*.go", "*.go"} {
		m, _ := filepath.Glob(pattern)
		for _, f := range m {
			if !strings.HasSuffix(f, "_test.go") {
				files = append(files, f)
			}
		}
	}
	declared := map[string]string{} // code -> where
	decl := regexp.MustCompile(`(Code\w+)\s*=\s*"(MG\d{4})"`)
	n := 0
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range decl.FindAllStringSubmatch(string(src), -1) {
			n++
			if prev, ok := declared[m[2]]; ok {
				t.Errorf("%s is declared twice: %s and %s (%s)", m[2], prev, m[1], f)
			}
			declared[m[2]] = m[1] + " (" + f + ")"
			if !strings.Contains(string(doc), "| "+m[2]+" | "+m[1]+" |") {
				t.Errorf("%s %s (%s) is not documented in docs/diagnostics.md", m[2], m[1], f)
			}
		}
	}
	if n == 0 {
		t.Fatal("no codes found")
	}
}
