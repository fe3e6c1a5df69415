package file

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/diag"
)

// testTimeout bounds every wait; nothing here sleeps for correctness.
const testTimeout = 10 * time.Second

// virtualService is a one-object configuration whose host identifies the
// version of the file.
func virtualService(host string) []byte {
	return fmt.Appendf(nil, `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: routes, namespace: default}
spec:
  hosts: [%q]
  http: [{route: [{destination: {host: backend}}]}]
`, host)
}

func hosts(u Update) []string {
	var out []string
	for _, vs := range u.Bundle.VirtualServices {
		out = append(out, vs.Spec.Hosts...)
	}
	return out
}

func hasHost(host string) func(Update) bool {
	return func(u Update) bool { return slices.Contains(hosts(u), host) }
}

// run starts a source on paths and stops it when the test ends.
func run(t *testing.T, paths ...string) <-chan Update {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan Update)
	done := make(chan error, 1)
	go func() { done <- New(paths, nil).Run(ctx, out) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(testTimeout):
			t.Error("Run did not stop after cancel")
		}
	})
	return out
}

// await reads updates until one satisfies ok, and returns it with the
// number of updates read.
func await(t *testing.T, out <-chan Update, what string, ok func(Update) bool) (Update, int) {
	t.Helper()
	deadline := time.After(testTimeout)
	for n := 1; ; n++ {
		select {
		case u := <-out:
			if ok(u) {
				return u, n
			}
		case <-deadline:
			t.Fatalf("timed out waiting for an update with %s", what)
		}
	}
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestRunWrite(t *testing.T) {
	dir := t.TempDir()
	out := run(t, dir)
	u, _ := await(t, out, "the initial empty configuration", func(u Update) bool { return true })
	if len(u.Bundle.VirtualServices) != 0 || len(u.Diagnostics) != 0 {
		t.Fatalf("initial update = %v, %v", hosts(u), u.Diagnostics)
	}
	write(t, filepath.Join(dir, "routes.yaml"), virtualService("a.example.com"))
	await(t, out, "host a.example.com", hasHost("a.example.com"))

	// A broken edit still produces an update, carrying the error.
	write(t, filepath.Join(dir, "routes.yaml"), []byte("spec: ["))
	u, _ = await(t, out, "a syntax error", func(u Update) bool { return u.Diagnostics.HasErrors() })
	if d := u.Diagnostics[0]; d.Origin.File != filepath.Join(dir, "routes.yaml") || d.Origin.Line != 1 {
		t.Errorf("diagnostic = %v", d)
	}
}

// TestRunRenameOver replaces the file the way editors and config
// management tools do: write a temporary file, rename it over the original.
func TestRunRenameOver(t *testing.T) {
	for _, tt := range []struct {
		name string
		path func(dir string) string // what the source is given
	}{
		{"directory", func(dir string) string { return dir }},
		{"single file", func(dir string) string { return filepath.Join(dir, "routes.yaml") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			target := filepath.Join(dir, "routes.yaml")
			write(t, target, virtualService("old.example.com"))
			out := run(t, tt.path(dir))
			await(t, out, "the old host", hasHost("old.example.com"))

			tmp := filepath.Join(dir, ".routes.yaml.tmp")
			write(t, tmp, virtualService("new.example.com"))
			must(t, os.Rename(tmp, target))
			await(t, out, "the new host", hasHost("new.example.com"))

			// The watch survives the rename: a second replacement is seen too.
			write(t, tmp, virtualService("newer.example.com"))
			must(t, os.Rename(tmp, target))
			await(t, out, "the newer host", hasHost("newer.example.com"))
		})
	}
}

func TestRunBurst(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "routes.yaml")
	write(t, target, virtualService("start.example.com"))
	out := run(t, dir)
	await(t, out, "the initial host", hasHost("start.example.com"))

	const writes = 20
	for i := range writes {
		write(t, target, virtualService(fmt.Sprintf("h%d.example.com", i)))
	}
	final := fmt.Sprintf("h%d.example.com", writes-1)
	_, n := await(t, out, "the final host", hasHost(final))
	t.Logf("%d writes produced %d updates", writes, n)
	// Coalescing should fold the burst into one or two reloads; allow
	// some slack for a loaded machine splitting it further.
	if n > 4 {
		t.Errorf("%d writes produced %d updates, want them coalesced", writes, n)
	}
}

func TestRunNewSubdirectory(t *testing.T) {
	dir := t.TempDir()
	out := run(t, dir)
	await(t, out, "the initial configuration", func(Update) bool { return true })

	sub := filepath.Join(dir, "team-a", "routes")
	must(t, os.MkdirAll(sub, 0o755))
	write(t, filepath.Join(sub, "routes.yaml"), virtualService("first.example.com"))
	await(t, out, "a file in a new subdirectory", hasHost("first.example.com"))

	// Changes inside the new directory are watched from now on.
	write(t, filepath.Join(sub, "routes.yaml"), virtualService("second.example.com"))
	await(t, out, "a change in the new subdirectory", hasHost("second.example.com"))
}

// TestRunConfigMapSwap updates a directory laid out as a Kubernetes
// ConfigMap volume: the kubelet writes a new hidden directory, points a
// temporary symlink at it and renames that over "..data".
func TestRunConfigMapSwap(t *testing.T) {
	dir := t.TempDir()
	publish := func(version, host string) {
		versionDir := filepath.Join(dir, version)
		must(t, os.Mkdir(versionDir, 0o755))
		write(t, filepath.Join(versionDir, "routes.yaml"), virtualService(host))
		tmp := filepath.Join(dir, "..data_tmp")
		must(t, os.Symlink(version, tmp))
		must(t, os.Rename(tmp, filepath.Join(dir, "..data")))
	}
	publish("..2024_05_01_12_00_00.1", "v1.example.com")
	must(t, os.Symlink(filepath.Join("..data", "routes.yaml"), filepath.Join(dir, "routes.yaml")))

	for _, path := range []string{dir, filepath.Join(dir, "routes.yaml")} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			out := run(t, path)
			u, _ := await(t, out, "the first version", func(Update) bool { return true })
			current := hosts(u)[0]
			next := current + ".next"
			publish(fmt.Sprintf("..%d", time.Now().UnixNano()), next)
			await(t, out, "the swapped version", hasHost(next))
		})
	}
}

// TestRunUnchanged: events that leave the content as it was (touching a
// file, an editor's swap file) send nothing; the next real change does.
func TestRunUnchanged(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "routes.yaml")
	write(t, target, virtualService("same.example.com"))
	out := run(t, dir)
	await(t, out, "the initial host", hasHost("same.example.com"))

	// Replace atomically, so no reload can catch a half-written file.
	replace := func(data []byte) {
		tmp := target + ".tmp"
		write(t, tmp, data)
		must(t, os.Rename(tmp, target))
	}
	replace(virtualService("same.example.com"))
	write(t, filepath.Join(dir, ".routes.yaml.swp"), []byte("junk"))
	replace(virtualService("changed.example.com"))
	u, _ := await(t, out, "any update", func(Update) bool { return true })
	if got := hosts(u); !slices.Equal(got, []string{"changed.example.com"}) {
		t.Errorf("first update after no-op events has hosts %v, want the real change", got)
	}
}

func TestForwardLatestWins(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in, out := make(chan Update), make(chan Update)
	done := make(chan struct{})
	go func() {
		forward(ctx, in, out)
		close(done)
	}()
	// Nobody reads out while three updates arrive; each send returns
	// promptly because forward replaces the unread one.
	for i := range 3 {
		select {
		case in <- Update{Diagnostics: diag.List{{Message: fmt.Sprint(i)}}}:
		case <-time.After(testTimeout):
			t.Fatalf("send %d blocked", i)
		}
	}
	select {
	case u := <-out:
		if got := u.Diagnostics[0].Message; got != "2" {
			t.Errorf("reader got update %s, want the latest (2)", got)
		}
	case <-time.After(testTimeout):
		t.Fatal("no update forwarded")
	}
	select {
	case u := <-out:
		t.Errorf("stale update delivered after the latest: %v", u)
	default:
	}
	cancel()
	<-done
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "routes.yaml"), virtualService("a.example.com"))
	b, diags := New([]string{dir}, nil).Load()
	if len(diags) != 0 || len(b.VirtualServices) != 1 {
		t.Errorf("Load = %d virtual services, %v", len(b.VirtualServices), diags)
	}
}

// TestRunPathAppears: a configured directory that does not exist yet is
// picked up once it is created, and watched from then on.
func TestRunPathAppears(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "conf.d")
	out := run(t, dir)
	u, _ := await(t, out, "the initial update", func(Update) bool { return true })
	if !u.Diagnostics.HasErrors() {
		t.Errorf("a missing directory should be reported, got %v", u.Diagnostics)
	}
	must(t, os.Mkdir(dir, 0o755))
	write(t, filepath.Join(dir, "routes.yaml"), virtualService("late.example.com"))
	await(t, out, "the late directory's content", hasHost("late.example.com"))
	write(t, filepath.Join(dir, "routes.yaml"), virtualService("later.example.com"))
	await(t, out, "a change inside it", hasHost("later.example.com"))
}
