package resource

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLoadPaths(t *testing.T) {
	dir := filepath.Join("testdata", "load")
	b, diags := LoadPaths(dir)
	// Sorted: oldest first, then by name; the duplicate is dropped.
	want := []string{
		"Gateway istio-system/edge",
		"VirtualService default/zz-oldest",
		"VirtualService default/routes",
		"DestinationRule default/a",
	}
	if diff := cmp.Diff(want, keys(b)); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	dup := filepath.Join(dir, "sub", "40-dup.yaml")
	checkDiags(t, dup, diags, []wantDiag{{line: 5, code: CodeDuplicateObject, field: "metadata.name",
		msg: "duplicate VirtualService default/routes: " + filepath.Join(dir, "20-routes.yml") + ":4 already defines it"}})
	if got := b.VirtualServices[1].Spec.Hosts; len(got) != 1 || got[0] != "*" {
		t.Errorf("the first definition must win, got hosts %v", got)
	}

	// A file named directly is read once even if its directory is named too.
	b2, diags := LoadPaths(filepath.Join(dir, "sub", "30-dr.json"), filepath.Join(dir, "sub"))
	if len(b2.DestinationRules) != 1 || len(diags) != 0 {
		t.Errorf("got %v, diagnostics:\n%s", keys(b2), diags.Error())
	}

	_, diags = LoadPaths(filepath.Join(dir, "missing"))
	if len(diags) != 1 || diags[0].Code != CodeRead || diags[0].Origin.File != filepath.Join(dir, "missing") {
		t.Errorf("missing path: %v", diags)
	}
}

// TestLoadConfigMapVolume loads a directory laid out as Kubernetes mounts a
// ConfigMap: visible names are symlinks into a hidden, versioned
// directory reached through the "..data" symlink.
func TestLoadConfigMapVolume(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join("testdata", "decode", "canary.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	version := filepath.Join(dir, "..2024_05_01_12_00_00.000000001")
	if err := os.Mkdir(version, 0o755); err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(filepath.Join(version, "canary.yaml"), data, 0o644))
	must(t, os.Symlink(filepath.Base(version), filepath.Join(dir, "..data")))
	must(t, os.Symlink(filepath.Join("..data", "canary.yaml"), filepath.Join(dir, "canary.yaml")))
	// A link to a directory is not followed: it would load canary twice.
	must(t, os.Symlink(filepath.Base(version), filepath.Join(dir, "linked")))

	// The mount point itself may be reached through a symlink.
	link := filepath.Join(t.TempDir(), "config")
	must(t, os.Symlink(dir, link))

	for _, root := range []string{dir, link} {
		b, diags := LoadPaths(root)
		if len(diags) != 0 {
			t.Fatalf("%s: diagnostics:\n%s", root, diags.Error())
		}
		if got := keys(b); len(got) != 3 {
			t.Errorf("%s: objects = %v, want the 3 canary objects once", root, got)
		}
		if want := filepath.Join(root, "canary.yaml"); b.Gateways[0].Origin.File != want {
			t.Errorf("origin file = %q, want %q", b.Gateways[0].Origin.File, want)
		}
	}
}

func TestSort(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	vs := func(ns, name string, created time.Time) *VirtualService {
		return &VirtualService{Meta: Meta{Kind: KindVirtualService, Namespace: ns, Name: name, CreationTimestamp: created}}
	}
	b := &Bundle{VirtualServices: []*VirtualService{
		vs("b", "x", time.Time{}),
		vs("a", "y", t0.Add(time.Hour)),
		vs("a", "x", time.Time{}),
		vs("z", "z", t0),
		vs("a", "a", t0.Add(time.Hour)),
	}}
	b.Sort()
	want := []string{
		// No timestamp is the zero time, which sorts first.
		"VirtualService a/x",
		"VirtualService b/x",
		"VirtualService z/z",
		"VirtualService a/a",
		"VirtualService a/y",
	}
	if diff := cmp.Diff(want, keys(b)); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
