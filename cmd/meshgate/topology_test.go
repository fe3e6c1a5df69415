package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestTopologyPrecedence checks where gatewayTopology comes from, highest
// first: a flag, --proxy-config, the gateway Pod's proxy.istio.io/config
// annotation (only without --proxy-config), the --mesh defaultConfig.
func TestTopologyPrecedence(t *testing.T) {
	dir := t.TempDir()
	mesh := filepath.Join(dir, "mesh.yaml")
	proxy := filepath.Join(dir, "proxy.yaml")
	if err := os.WriteFile(mesh, []byte("defaultConfig: {gatewayTopology: {numTrustedProxies: 1}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(proxy, []byte("gatewayTopology: {numTrustedProxies: 3}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		annotation string
		want       uint32
		wantErr    bool
	}{
		{"mesh defaultConfig", []string{"--mesh", mesh}, "", 1, false},
		{"Pod annotation over the mesh", []string{"--mesh", mesh}, "gatewayTopology: {numTrustedProxies: 2}", 2, false},
		{"--proxy-config over the annotation", []string{"--mesh", mesh, "--proxy-config", proxy}, "gatewayTopology: {numTrustedProxies: 2}", 3, false},
		{"flag over everything", []string{"--mesh", mesh, "--proxy-config", proxy, "--num-trusted-proxies", "4"}, "", 4, false},
		{"bad annotation names its origin", nil, "gatewayTopology: {numTrustedProxes: 2}", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			var tf topologyFlags
			tf.register(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			tf.podProxyConfig = tc.annotation
			top, err := tf.topology(fs)
			if tc.wantErr {
				if err == nil {
					t.Fatal("a misspelt field was accepted")
				}
				t.Logf("error: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := top.Forwarded.NumTrustedProxies; got != tc.want {
				t.Errorf("numTrustedProxies = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestTracingSamplingFromProxyConfig: the sampling percentage comes from
// --tracing-sampling, else the gateway's effective ProxyConfig (the Pod
// annotation or --proxy-config over the --mesh defaultConfig), else
// Istio's 1 %.
func TestTracingSamplingFromProxyConfig(t *testing.T) {
	dir := t.TempDir()
	mesh := filepath.Join(dir, "mesh.yaml")
	if err := os.WriteFile(mesh, []byte("defaultConfig: {tracing: {sampling: 5}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		annotation string
		want       float64
	}{
		{"Istio's default", nil, "", 1},
		{"mesh defaultConfig", []string{"--mesh", mesh}, "", 5},
		{"Pod annotation over the mesh", []string{"--mesh", mesh}, "tracing: {sampling: 20}", 20},
		{"flag over everything", []string{"--mesh", mesh, "--tracing-sampling", "50"}, "tracing: {sampling: 20}", 50},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			var tf topologyFlags
			var tel telemetryFlags
			tf.register(fs)
			tel.register(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			tf.podProxyConfig = tc.annotation
			pc, err := tf.gatewayProxyConfig()
			if err != nil {
				t.Fatal(err)
			}
			opts, err := tel.tracingSettings(pc)
			if err != nil {
				t.Fatal(err)
			}
			if opts.SamplePercent != tc.want {
				t.Errorf("sampling = %v, want %v", opts.SamplePercent, tc.want)
			}
		})
	}
}
