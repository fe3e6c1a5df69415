package translate

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// TestGolden compiles every testdata/<case>.in.yaml and compares the
// snapshot dump with <case>.out.json and the diagnostics, one per line,
// with <case>.diag.txt. Regenerate with: go test ./internal/translate -update
//
// An input may start with a line
//
//	# identity: labels=k=v,k2=v2 namespace=ns
//
// to build for another gateway identity than the default.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "*.in.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) == 0 {
		t.Fatal("no golden inputs under testdata")
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			id, err := parseIdentityHeader(data)
			if err != nil {
				t.Fatal(err)
			}
			bundle, decodeDiags := resource.Build([]resource.File{{Name: filepath.Base(in), Data: data}})
			if len(decodeDiags) > 0 {
				t.Fatalf("the input does not decode cleanly:\n%s", decodeDiags.Error())
			}
			snap, diags := Build(bundle, id)
			dump, err := snapshot.Dump(snap)
			if err != nil {
				t.Fatal(err)
			}
			compareGolden(t, filepath.Join("testdata", name+".out.json"), dump)
			compareGolden(t, filepath.Join("testdata", name+".diag.txt"), renderDiagnostics(diags))

			// The same input must give the same output.
			again, againDiags := Build(bundle, id)
			againDump, _ := snapshot.Dump(again)
			if !bytes.Equal(dump, againDump) || againDiags.Error() != diags.Error() {
				t.Error("a second Build of the same bundle gave a different result")
			}
		})
	}
}

func renderDiagnostics(diags diag.List) []byte {
	var b bytes.Buffer
	for _, d := range diags {
		fmt.Fprintf(&b, "%s [%s]\n", d.String(), d.Code)
	}
	return b.Bytes()
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/translate -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test ./internal/translate -update and review the diff):\n%s",
			path, firstDifference(want, got))
	}
}

// firstDifference shows the first differing line of two texts with a
// little context, which is what one needs to see in a failing golden test.
func firstDifference(want, got []byte) string {
	w := strings.Split(string(want), "\n")
	g := strings.Split(string(got), "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n  want: %s\n  got:  %s", i+1, wl, gl)
		}
	}
	return "(no line differs; trailing bytes do)"
}

// parseIdentityHeader reads the optional "# identity:" first line.
func parseIdentityHeader(data []byte) (Identity, error) {
	var id Identity
	first, _, _ := bytes.Cut(data, []byte("\n"))
	rest, ok := strings.CutPrefix(strings.TrimSpace(string(first)), "# identity:")
	if !ok {
		return id, nil
	}
	for _, field := range strings.Fields(rest) {
		key, value, ok := strings.Cut(field, "=")
		if !ok {
			return id, fmt.Errorf("identity header: %q is not key=value", field)
		}
		switch key {
		case "labels":
			id.Labels = map[string]string{}
			for _, kv := range strings.Split(value, ",") {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return id, fmt.Errorf("identity header: label %q is not k=v", kv)
				}
				id.Labels[k] = v
			}
		case "namespace":
			id.Namespace = value
		case "locality":
			id.Locality = parseLocality(value)
		case "network":
			id.Network = value
		case "cluster":
			id.Cluster = value
		case "domainSuffix":
			id.DomainSuffix = value
		case "defaultVirtualServiceExportTo":
			id.ExportTo.VirtualService = strings.Split(value, ",")
		case "defaultDestinationRuleExportTo":
			id.ExportTo.DestinationRule = strings.Split(value, ",")
		case "defaultServiceExportTo":
			id.ExportTo.Service = strings.Split(value, ",")
		default:
			return id, fmt.Errorf("identity header: unknown key %q", key)
		}
	}
	return id, nil
}
