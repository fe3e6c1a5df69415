package translate

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
)

// FuzzBuild feeds decoded YAML to Build: it must never panic, and building
// the same bundle twice must give the same dump and diagnostics. The
// golden inputs are the seed corpus. Run with
// go test ./internal/translate -run '^$' -fuzz FuzzBuild -fuzztime 30s
func FuzzBuild(f *testing.F) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "*.in.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, in := range inputs {
		data, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		bundle, _ := resource.Build([]resource.File{{Name: "fuzz.yaml", Data: data}})
		id, err := parseIdentityHeader(data)
		if err != nil {
			id = Identity{}
		}
		snap, diags := Build(bundle, id)
		dump, err := snapshot.Dump(snap)
		if err != nil {
			t.Fatalf("dump: %v", err)
		}
		again, againDiags := Build(bundle, id)
		againDump, err := snapshot.Dump(again)
		if err != nil {
			t.Fatalf("dump: %v", err)
		}
		if !bytes.Equal(dump, againDump) || diags.Error() != againDiags.Error() {
			t.Fatal("Build is not deterministic for this input")
		}
		for _, l := range snap.Listeners {
			for _, vh := range l.VirtualHosts {
				for _, r := range vh.Routes {
					n := 0
					if len(r.Destinations) > 0 {
						n++
					}
					if r.Redirect != nil {
						n++
					}
					if r.DirectResponse != nil {
						n++
					}
					if n != 1 {
						t.Fatalf("route %s has %d actions, want exactly one", r.Name, n)
					}
					if r.Redirect != nil && r.Fault != nil {
						t.Fatalf("route %s has a fault on a redirect", r.Name)
					}
					if len(r.Destinations) == 0 && (r.Retry != nil || r.Timeout != 0 || len(r.Mirrors) > 0 || r.Rewrite != nil) {
						t.Fatalf("route %s has forwarding policies without destinations", r.Name)
					}
				}
			}
		}
	})
}
