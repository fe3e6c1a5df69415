package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	meshv1alpha1 "istio.io/api/mesh/v1alpha1"

	"github.com/meshgate/meshgate/internal/meshconfig"
	"github.com/meshgate/meshgate/internal/telemetry/accesslog"
)

// The access-log flags win over the --mesh file's accessLogFile and
// accessLogEncoding, which win over the defaults.
func TestAccessLogSettings(t *testing.T) {
	mesh := filepath.Join(t.TempDir(), "mesh.yaml")
	if err := os.WriteFile(mesh, []byte("accessLogFile: /var/log/gw.log\naccessLogEncoding: JSON\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		mesh       string
		wantDest   string
		wantFormat accesslog.Format
		wantSample float64
		wantErr    string
	}{
		{"defaults", nil, "", "stdout", accesslog.Text, 100, ""},
		{"mesh", nil, mesh, "/var/log/gw.log", accesslog.JSON, 100, ""},
		{"flags over mesh", []string{"--access-log", "stderr", "--access-log-format", "text", "--access-log-sampling", "5"}, mesh, "stderr", accesslog.Text, 5, ""},
		{"bad format", []string{"--access-log-format", "xml"}, "", "", 0, 0, "text or json"},
		{"bad sampling", []string{"--access-log-sampling", "150"}, "", "", 0, 0, "not a percentage"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			var f telemetryFlags
			f.register(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			var mc *meshv1alpha1.MeshConfig
			if tc.mesh != "" {
				var err error
				if mc, err = meshconfig.LoadMesh(tc.mesh); err != nil {
					t.Fatal(err)
				}
			}
			dest, opts, err := f.accessLogSettings(fs, mc)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if dest != tc.wantDest || opts.Format != tc.wantFormat || opts.SamplePercent != tc.wantSample {
				t.Errorf("got %s %s %v, want %s %s %v", dest, opts.Format, opts.SamplePercent, tc.wantDest, tc.wantFormat, tc.wantSample)
			}
		})
	}
}
