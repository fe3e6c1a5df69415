package meshconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/dataplane/forwarded"
)

const meshYAML = `
accessLogFile: /dev/stdout
defaultConfig:
  terminationDrainDuration: 12s
  proxyMetadata:
    EXIT_ON_ZERO_ACTIVE_CONNECTIONS: "false"
    OTHER: kept
  gatewayTopology:
    numTrustedProxies: 2
    forwardClientCertDetails: APPEND_FORWARD
    proxyProtocol: {}
`

func TestGatewaySettingsFromMeshConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mesh.yaml")
	if err := os.WriteFile(path, []byte(meshYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	mc, err := LoadMesh(path)
	if err != nil {
		t.Fatal(err)
	}
	g, err := GatewaySettings(mc.GetDefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{NumTrustedProxies: 2, ClientCert: forwarded.AppendForward, ProxyProtocol: true, DrainDelay: 12 * time.Second}
	if g != want {
		t.Errorf("settings = %+v, want %+v", g, want)
	}
}

func TestDefaults(t *testing.T) {
	g, err := GatewaySettings(nil)
	if err != nil {
		t.Fatal(err)
	}
	// Istio: numTrustedProxies 0, forwardClientCertDetails UNDEFINED
	// (SANITIZE_SET at gateways), no PROXY protocol, 5s drain.
	want := Settings{DrainDelay: 5 * time.Second}
	if g != want {
		t.Errorf("defaults = %+v, want %+v", g, want)
	}
}

func TestConfigMapForm(t *testing.T) {
	cm := `apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |-
    defaultConfig:
      gatewayTopology:
        numTrustedProxies: 1
`
	mc, err := DecodeMesh([]byte(cm))
	if err != nil {
		t.Fatal(err)
	}
	if n := mc.GetDefaultConfig().GetGatewayTopology().GetNumTrustedProxies(); n != 1 {
		t.Errorf("numTrustedProxies = %d, want 1", n)
	}
}

func TestStrictDecoding(t *testing.T) {
	for _, tc := range []struct{ doc, wantErr string }{
		{"defaultConfig:\n  gatewayTopology:\n    numTrustedProxy: 2\n", "numTrustedProxy"},
		{"defaultConfig:\n  gatewayTopology:\n    forwardClientCertDetails: SANITISE\n", "SANITISE"},
		{"defaultConfig:\n  terminationDrainDuration: soon\n", "terminationDrainDuration"},
		{"defaultConfig: [1, 2]\n", "defaultConfig"},
		{"a: [\n", "not YAML"},
	} {
		_, err := DecodeMesh([]byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("DecodeMesh(%q) = %v, want an error naming %q", tc.doc, err, tc.wantErr)
		}
	}
}

// TestAnnotationOverride: Istio's MergeProxyConfig replaces each field the
// annotation sets as a whole and merges proxyMetadata keys.
func TestAnnotationOverride(t *testing.T) {
	mc, err := DecodeMesh([]byte(meshYAML))
	if err != nil {
		t.Fatal(err)
	}
	ann, err := DecodeProxyConfig([]byte(`{"gatewayTopology": {"numTrustedProxies": 1}, "proxyMetadata": {"EXIT_ON_ZERO_ACTIVE_CONNECTIONS": "true", "MINIMUM_DRAIN_DURATION": "7s"}}`))
	if err != nil {
		t.Fatal(err)
	}
	pc := ApplyProxyConfig(mc.GetDefaultConfig(), ann)
	g, err := GatewaySettings(pc)
	if err != nil {
		t.Fatal(err)
	}
	// gatewayTopology is replaced whole: the mesh's APPEND_FORWARD and
	// proxyProtocol are gone.
	want := Settings{NumTrustedProxies: 1, DrainDelay: 7 * time.Second, DrainUntilIdle: true}
	if g != want {
		t.Errorf("settings = %+v, want %+v", g, want)
	}
	if pc.GetProxyMetadata()["OTHER"] != "kept" {
		t.Errorf("proxyMetadata = %v, want the mesh's keys kept", pc.GetProxyMetadata())
	}
	if mc.GetDefaultConfig().GetGatewayTopology().GetNumTrustedProxies() != 2 {
		t.Error("ApplyProxyConfig changed its base")
	}
}

func TestClientCertDetailsOverride(t *testing.T) {
	pc, err := DecodeProxyConfig([]byte("proxyHeaders:\n  setCurrentClientCertDetails:\n    chain: true\n    dns: false\n"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := GatewaySettings(pc)
	if err != nil {
		t.Fatal(err)
	}
	want := forwarded.ClientCertDetails{Subject: true, Chain: true, URI: true}
	if g.ClientCertDetails == nil || *g.ClientCertDetails != want {
		t.Errorf("details = %+v, want %+v (API defaults: subject, uri on; cert off)", g.ClientCertDetails, want)
	}
}

func TestBadMetadata(t *testing.T) {
	for _, doc := range []string{
		"proxyMetadata: {EXIT_ON_ZERO_ACTIVE_CONNECTIONS: maybe}",
		"proxyMetadata: {EXIT_ON_ZERO_ACTIVE_CONNECTIONS: 'true', MINIMUM_DRAIN_DURATION: forever}",
	} {
		pc, err := DecodeProxyConfig([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := GatewaySettings(pc); err == nil {
			t.Errorf("%s: no error", doc)
		}
	}
}
