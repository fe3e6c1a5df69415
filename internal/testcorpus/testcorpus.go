// Package testcorpus gives tests the shared corpus of Istio configuration
// written by others (Istio's samples, test data and API examples, and
// invalid cases with Istio's error), which lives beside the repository at
// ../shared/corpus/istio. A user's clone has no ../shared: the tests that
// need it skip, saying so.
package testcorpus

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// Dir is the corpus directory.
var Dir = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "corpus", "istio")
}()

// Require skips the test when the corpus is absent.
func Require(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(Dir); err != nil {
		t.Skipf("Istio corpus absent at %s (%v); skipping corpus tests", Dir, err)
	}
}

// Doc is one document of an annotated (crd-testdata) corpus file.
type Doc struct {
	// Data is the document without the harness keys.
	Data []byte
	// Err is Istio's error for an invalid case (the _err key).
	Err string
}

// Documents splits a crd-testdata file into documents and strips the
// harness keys (_err, _source) from each.
func Documents(t *testing.T, path string) []Doc {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []Doc
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			continue
		}
		root := doc.Content[0]
		var d Doc
		var kept []*yaml.Node
		for i := 0; i+1 < len(root.Content); i += 2 {
			switch root.Content[i].Value {
			case "_err":
				d.Err = root.Content[i+1].Value
			case "_source":
			default:
				kept = append(kept, root.Content[i], root.Content[i+1])
			}
		}
		root.Content = kept
		if d.Data, err = yaml.Marshal(root); err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
}

// ReadCaseList reads a list of corpus cases the tests treat specially,
// one "case-id reason..." per line; # starts a comment. Every case needs
// its reason.
func ReadCaseList(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, reason, _ := strings.Cut(line, " ")
		if reason = strings.TrimSpace(reason); reason == "" {
			t.Errorf("%s: %s has no reason", path, id)
		}
		out[id] = reason
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
