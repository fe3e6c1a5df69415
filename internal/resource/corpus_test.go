package resource

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
	"go.yaml.in/yaml/v3"
)

// corpusDir is the shared corpus of Istio configuration written by others
// (Istio samples, tests, docs), relative to this package directory.
var corpusDir = filepath.Join("..", "..", "..", "shared", "corpus", "istio")

func requireCorpus(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("Istio corpus absent at %s (%v); skipping corpus tests", corpusDir, err)
	}
}

// TestCorpusValid loads every file of the corpus that Istio accepts: all
// of it outside invalid/, plus invalid/analysis/ whose problems are
// semantic (schema-valid objects that analyzers flag). Each file is loaded
// on its own because files deliberately redefine the same objects.
func TestCorpusValid(t *testing.T) {
	requireCorpus(t)
	var files []string
	err := filepath.WalkDir(corpusDir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(corpusDir, path)
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
	requireCorpus(t)
	skips := readSkipList(t, filepath.Join("testdata", "corpus-skip.txt"))
	used := map[string]bool{}
	dir := filepath.Join(corpusDir, "invalid", "crd-testdata")
	invalid, _ := filepath.Glob(filepath.Join(dir, "*-invalid.yaml"))
	valid, _ := filepath.Glob(filepath.Join(dir, "*-valid.yaml"))
	if len(invalid) == 0 || len(valid) == 0 {
		t.Fatalf("no crd-testdata in %s", dir)
	}
	var rejected, skipped, matched int
	for _, f := range invalid {
		for i, doc := range annotatedDocuments(t, f) {
			id := fmt.Sprintf("%s#%d", filepath.Base(f), i+1)
			var b Bundle
			diags := DecodeFile(id, doc.data, &b)
			reason, skip := skips[id]
			used[id] = skip
			switch {
			case skip && diags.HasErrors():
				t.Errorf("%s (%s) is rejected now; remove it from corpus-skip.txt (was: %s)", id, doc.err, reason)
			case skip:
				skipped++
			case !diags.HasErrors():
				t.Errorf("%s: want rejection (%s), decoded without error", id, doc.err)
			default:
				rejected++
				if strings.Contains(strings.ToLower(diags.Error()), strings.ToLower(doc.err)) {
					matched++
				}
				t.Logf("%s: want %q, got: %s", id, doc.err, diags.Error())
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
		for i, doc := range annotatedDocuments(t, f) {
			var b Bundle
			if diags := DecodeFile(fmt.Sprintf("%s#%d", filepath.Base(f), i+1), doc.data, &b); len(diags) > 0 {
				t.Errorf("valid case rejected: %s", diags.Error())
				continue
			}
			accepted++
		}
	}
	t.Logf("crd-testdata: %d invalid rejected (%d with Istio's message), %d skipped as semantic, %d valid accepted",
		rejected, matched, skipped, accepted)
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

// readSkipList reads "case-id reason..." lines; # starts a comment.
func readSkipList(t *testing.T, path string) map[string]string {
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
		if strings.TrimSpace(reason) == "" {
			t.Errorf("%s: %s has no reason", path, id)
		}
		out[id] = strings.TrimSpace(reason)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
