package gatewayapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/internal/resource"
	"google.golang.org/protobuf/encoding/protojson"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// TestGolden converts every testdata/<case>.in.yaml and compares the
// Istio Gateways and VirtualServices it stands for, and the diagnostics,
// with <case>.out.json. Regenerate with: go test ./internal/gatewayapi -update
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "*.in.yaml"))
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			b, diags := resource.Build([]resource.File{{Name: filepath.Base(in), Data: data}})
			if len(diags) > 0 {
				t.Fatalf("the input does not decode cleanly:\n%s", diags.Error())
			}
			out, cdiags := Convert(b, Options{})
			got := render(t, out, cdiags)
			again, _ := Convert(b, Options{})
			if !bytes.Equal(got, render(t, again, cdiags)) {
				t.Error("a second conversion gave a different result")
			}
			if len(b.Gateways) != 0 || len(b.VirtualServices) != 0 {
				t.Error("Convert modified its input Bundle")
			}
			path := filepath.Join("testdata", name+".out.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs (run go test ./internal/gatewayapi -update and review the diff); got:\n%s", path, got)
			}
		})
	}
}

// render writes the converted objects and diagnostics as indented JSON.
func render(t *testing.T, b *resource.Bundle, diags interface{ Error() string }) []byte {
	t.Helper()
	type object struct {
		Kind, Namespace, Name string
		Spec                  json.RawMessage
	}
	var doc struct {
		Objects     []object
		Diagnostics []string
	}
	for _, g := range b.Gateways {
		raw, err := protojson.Marshal(g.Spec)
		if err != nil {
			t.Fatal(err)
		}
		doc.Objects = append(doc.Objects, object{g.Kind, g.Namespace, g.Name, compact(raw)})
	}
	for _, v := range b.VirtualServices {
		raw, err := protojson.Marshal(v.Spec)
		if err != nil {
			t.Fatal(err)
		}
		doc.Objects = append(doc.Objects, object{v.Kind, v.Namespace, v.Name, compact(raw)})
	}
	for _, line := range strings.Split(strings.TrimSpace(diags.Error()), "\n") {
		if line != "" {
			doc.Diagnostics = append(doc.Diagnostics, line)
		}
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}

// compact re-encodes protojson output, whose spacing is deliberately
// unstable, into a stable form.
func compact(raw []byte) json.RawMessage {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		panic(fmt.Sprint(err))
	}
	out, _ := json.Marshal(v)
	return out
}
