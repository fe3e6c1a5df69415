package validate

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"go.yaml.in/yaml/v3"
)

// corpusDir is the shared corpus of Istio configuration written by others,
// relative to this package directory.
var corpusDir = filepath.Join("..", "..", "..", "shared", "corpus", "istio")

func requireCorpus(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("Istio corpus absent at %s (%v); skipping corpus tests", corpusDir, err)
	}
}

// decodeAndCheck decodes one document and runs the webhook checks on it.
func decodeAndCheck(id string, data []byte) diag.List {
	var b resource.Bundle
	diags := resource.DecodeFile(id, data, &b)
	return append(diags, Check(&b)...)
}

// TestCorpusCRD feeds each document of invalid/crd-testdata: every
// *-invalid.yaml document must be rejected (by decoding or by the webhook
// checks), every *-valid.yaml one accepted. It also holds the checks to
// the cases internal/resource/testdata/corpus-skip.txt hands over to
// validation: each must be rejected here.
func TestCorpusCRD(t *testing.T) {
	requireCorpus(t)
	dir := filepath.Join(corpusDir, "invalid", "crd-testdata")
	invalid, _ := filepath.Glob(filepath.Join(dir, "*-invalid.yaml"))
	valid, _ := filepath.Glob(filepath.Join(dir, "*-valid.yaml"))
	if len(invalid) == 0 || len(valid) == 0 {
		t.Fatalf("no crd-testdata in %s", dir)
	}
	handedOver := readCaseList(t, filepath.Join("..", "resource", "testdata", "corpus-skip.txt"))
	seen := map[string]bool{}
	rejectedWith := map[string][]string{}
	var rejected, matched int
	for _, f := range invalid {
		for i, doc := range annotatedDocuments(t, f) {
			id := fmt.Sprintf("%s#%d", filepath.Base(f), i+1)
			seen[id] = true
			diags := decodeAndCheck(id, doc.data)
			if !diags.HasErrors() {
				t.Errorf("%s: want rejection (%s), accepted", id, doc.err)
				continue
			}
			rejected++
			for _, d := range diags.Errors() {
				rejectedWith[id] = append(rejectedWith[id], d.Code)
			}
			if strings.Contains(strings.ToLower(diags.Error()), strings.ToLower(doc.err)) {
				matched++
			} else {
				t.Logf("%s: rejected, but without Istio's message %q: %s", id, doc.err, diags.Errors().Error())
			}
		}
	}
	for _, id := range sortedKeys(handedOver) {
		if !seen[id] {
			t.Errorf("corpus-skip.txt lists %s, which is not an invalid case in the corpus", id)
		}
		// The reason ends with the code validation rejects it with.
		reason := handedOver[id]
		code := reason[strings.LastIndex(reason, " ")+1:]
		if !slicesContainsCode(rejectedWith[id], code) {
			t.Errorf("corpus-skip.txt says validation rejects %s with %s; it reports %v", id, code, rejectedWith[id])
		}
	}
	var accepted int
	for _, f := range valid {
		for i, doc := range annotatedDocuments(t, f) {
			id := fmt.Sprintf("%s#%d", filepath.Base(f), i+1)
			diags := decodeAndCheck(id, doc.data)
			if diags.HasErrors() {
				t.Errorf("valid case %s rejected: %s", id, diags.Errors().Error())
				continue
			}
			for _, d := range diags {
				t.Logf("valid case %s: %s", id, d)
			}
			accepted++
		}
	}
	t.Logf("crd-testdata: %d invalid rejected (%d with Istio's message), %d valid accepted", rejected, matched, accepted)
}

// TestCorpusValidFiles runs the webhook checks over every file Istio
// accepts: nothing may be reported as an error there.
func TestCorpusValidFiles(t *testing.T) {
	requireCorpus(t)
	var files []string
	err := filepath.WalkDir(corpusDir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && e.Name() == "invalid" {
			return filepath.SkipDir
		}
		if !e.IsDir() && strings.HasSuffix(path, ".yaml") && !strings.HasSuffix(path, ".crd.yaml") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	warnings := 0
	for _, f := range files {
		b, diags := resource.LoadPaths(f)
		if diags.HasErrors() {
			t.Errorf("%s does not decode: %s", f, diags.Errors().Error())
			continue
		}
		for _, d := range Check(b) {
			if d.Severity == diag.Error {
				t.Errorf("%s", d)
			} else {
				warnings++
				t.Logf("%s", d)
			}
		}
	}
	if len(files) == 0 {
		t.Fatal("corpus holds no YAML files")
	}
	t.Logf("%d files checked, %d warnings", len(files), warnings)
}

type annotatedDoc struct {
	data []byte
	err  string
}

// annotatedDocuments splits a crd-testdata file into documents and strips
// the harness keys (_err, _source) from each.
func annotatedDocuments(t *testing.T, path string) []annotatedDoc {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []annotatedDoc
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
		var a annotatedDoc
		var kept []*yaml.Node
		for i := 0; i+1 < len(root.Content); i += 2 {
			switch root.Content[i].Value {
			case "_err":
				a.err = root.Content[i+1].Value
			case "_source":
			default:
				kept = append(kept, root.Content[i], root.Content[i+1])
			}
		}
		root.Content = kept
		if a.data, err = yaml.Marshal(root); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
}

// readCaseList reads "case-id reason..." lines; # starts a comment.
func readCaseList(t *testing.T, path string) map[string]string {
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
		out[id] = strings.TrimSpace(reason)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func slicesContainsCode(codes []string, code string) bool {
	for _, c := range codes {
		if c == code {
			return true
		}
	}
	return false
}
