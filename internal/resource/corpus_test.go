package resource

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/testcorpus"
)

// TestCorpusValid loads every file of the corpus that Istio accepts: all
// of it outside invalid/, plus invalid/analysis/ whose problems are
// semantic (schema-valid objects that analyzers flag). Each file is loaded
// on its own because files deliberately redefine the same objects.
func TestCorpusValid(t *testing.T) {
	testcorpus.Require(t)
	var files []string
	err := filepath.WalkDir(testcorpus.Dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(testcorpus.Dir, path)
		if e.IsDir() && rel == filepath.Join("invalid", "crd-testdata") {
			return filepath.SkipDir // covered by TestCorpusInvalid
		}
		if !e.IsDir() && strings.HasSuffix(path, ".yaml") && e.Name() != "EXPECTED.yaml" {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	objects, ignored := map[string]int{}, map[string]int{}
	warnings := 0
	for _, f := range files {
		b, diags := LoadPaths(f)
		for _, d := range diags {
			if d.Severity == diag.Error {
				t.Errorf("%s", d)
			} else {
				warnings++
				t.Logf("%s", d)
			}
		}
		count(b, objects)
		for k, n := range b.Ignored {
			ignored[k] += n
		}
	}
	t.Logf("corpus: %d files loaded, %d warnings; objects %v; ignored %v", len(files), warnings, objects, ignored)
	if len(files) == 0 {
		t.Fatal("corpus holds no YAML files")
	}
}

func count(b *Bundle, into map[string]int) {
	into[KindGateway] += len(b.Gateways)
	into[KindVirtualService] += len(b.VirtualServices)
	into[KindDestinationRule] += len(b.DestinationRules)
	into[KindServiceEntry] += len(b.ServiceEntries)
	into[KindWorkloadEntry] += len(b.WorkloadEntries)
	into[KindService] += len(b.Services)
	into[KindNamespace] += len(b.Namespaces)
}

// TestCorpusInvalid feeds each document of invalid/crd-testdata/*-invalid.yaml
// (with its _err/_source annotations removed) to the decoder. Each must be
// rejected unless testdata/corpus-skip.txt explains why rejecting it is
// validation's job rather than decoding's. A listed case that decoding
// does reject fails the test, so the list cannot go stale.
func TestCorpusInvalid(t *testing.T) {
	testcorpus.Require(t)
	skips := testcorpus.ReadCaseList(t, filepath.Join("testdata", "corpus-skip.txt"))
	used := map[string]bool{}
	dir := filepath.Join(testcorpus.Dir, "invalid", "crd-testdata")
	invalid, _ := filepath.Glob(filepath.Join(dir, "*-invalid.yaml"))
	valid, _ := filepath.Glob(filepath.Join(dir, "*-valid.yaml"))
	if len(invalid) == 0 || len(valid) == 0 {
		t.Fatalf("no crd-testdata in %s", dir)
	}
	var rejected, skipped, matched int
	for _, f := range invalid {
		for i, doc := range testcorpus.Documents(t, f) {
			id := fmt.Sprintf("%s#%d", filepath.Base(f), i+1)
			var b Bundle
			diags := DecodeFile(id, doc.Data, &b)
			reason, skip := skips[id]
			used[id] = skip
			switch {
			case skip && diags.HasErrors():
				t.Errorf("%s (%s) is rejected now; remove it from corpus-skip.txt (was: %s)", id, doc.Err, reason)
			case skip:
				skipped++
			case !diags.HasErrors():
				t.Errorf("%s: want rejection (%s), decoded without error", id, doc.Err)
			default:
				rejected++
				if strings.Contains(strings.ToLower(diags.Error()), strings.ToLower(doc.Err)) {
					matched++
				}
				t.Logf("%s: want %q, got: %s", id, doc.Err, diags.Error())
			}
		}
	}
	for id := range skips {
		if !used[id] {
			t.Errorf("corpus-skip.txt lists %s, which is not a case in the corpus", id)
		}
	}
	var accepted int
	for _, f := range valid {
		for i, doc := range testcorpus.Documents(t, f) {
			var b Bundle
			if diags := DecodeFile(fmt.Sprintf("%s#%d", filepath.Base(f), i+1), doc.Data, &b); len(diags) > 0 {
				t.Errorf("valid case rejected: %s", diags.Error())
				continue
			}
			accepted++
		}
	}
	t.Logf("crd-testdata: %d invalid rejected (%d with Istio's message), %d skipped as semantic, %d valid accepted",
		rejected, matched, skipped, accepted)
}
