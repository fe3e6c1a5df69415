package validate

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/testcorpus"
)

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
	testcorpus.Require(t)
	dir := filepath.Join(testcorpus.Dir, "invalid", "crd-testdata")
	invalid, _ := filepath.Glob(filepath.Join(dir, "*-invalid.yaml"))
	valid, _ := filepath.Glob(filepath.Join(dir, "*-valid.yaml"))
	if len(invalid) == 0 || len(valid) == 0 {
		t.Fatalf("no crd-testdata in %s", dir)
	}
	handedOver := testcorpus.ReadCaseList(t, filepath.Join("..", "resource", "testdata", "corpus-skip.txt"))
	seen := map[string]bool{}
	rejectedWith := map[string][]string{}
	var rejected, matched int
	for _, f := range invalid {
		for i, doc := range testcorpus.Documents(t, f) {
			id := fmt.Sprintf("%s#%d", filepath.Base(f), i+1)
			seen[id] = true
			diags := decodeAndCheck(id, doc.Data)
			if !diags.HasErrors() {
				t.Errorf("%s: want rejection (%s), accepted", id, doc.Err)
				continue
			}
			rejected++
			for _, d := range diags.Errors() {
				rejectedWith[id] = append(rejectedWith[id], d.Code)
			}
			if strings.Contains(strings.ToLower(diags.Error()), strings.ToLower(doc.Err)) {
				matched++
			} else {
				t.Logf("%s: rejected, but without Istio's message %q: %s", id, doc.Err, diags.Errors().Error())
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
		if !slices.Contains(rejectedWith[id], code) {
			t.Errorf("corpus-skip.txt says validation rejects %s with %s; it reports %v", id, code, rejectedWith[id])
		}
	}
	var accepted int
	for _, f := range valid {
		for i, doc := range testcorpus.Documents(t, f) {
			id := fmt.Sprintf("%s#%d", filepath.Base(f), i+1)
			diags := decodeAndCheck(id, doc.Data)
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
	testcorpus.Require(t)
	var files []string
	err := filepath.WalkDir(testcorpus.Dir, func(path string, e fs.DirEntry, err error) error {
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
