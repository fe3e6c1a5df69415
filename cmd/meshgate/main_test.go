package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// captureStdout runs f and returns what it printed.
func captureStdout(t *testing.T, f func() int) (string, int) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	code := f()
	os.Stdout = old
	w.Close()
	var buf bytes.Buffer
	_, _ = io.Copy(&buf, r)
	return buf.String(), code
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "vs.yaml")
	if err := os.WriteFile(bad, []byte(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echoserver-vs, namespace: default}
spec:
  hosts: ["*"]
  gateways: [echo-gateway]
  http:
  - route:
    - destination: {host: echoserver-service}
      wieght: 20
`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     string
	}{
		{"example is valid", []string{"-q", "../../examples/echo"}, 0, ""},
		{"misspelt field", []string{bad}, 1,
			bad + ":10: VirtualService default/echoserver-vs: spec.http[0].route[0].wieght: unknown field \"wieght\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, code := captureStdout(t, func() int { return validateCmd(tc.args) })
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d; output:\n%s", code, tc.wantCode, out)
			}
			if tc.want == "" && strings.TrimSpace(out) != "" {
				t.Errorf("want no output, got:\n%s", out)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, out)
			}
		})
	}
}

func TestDemoBundleDecodes(t *testing.T) {
	b, err := demoBundle()
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Gateways) != 1 || len(b.VirtualServices) != 1 || len(b.WorkloadEntries) != 4 {
		t.Fatalf("demo bundle has %d gateways, %d virtual services, %d workload entries",
			len(b.Gateways), len(b.VirtualServices), len(b.WorkloadEntries))
	}
}
