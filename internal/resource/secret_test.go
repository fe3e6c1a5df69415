package resource

import (
	"strings"
	"testing"
)

func TestDecodeSecret(t *testing.T) {
	tests := []struct {
		name     string
		yaml     string
		wantType string
		wantData map[string]string
		// wantErr is a substring of the only diagnostic expected; empty
		// means the Secret decodes cleanly.
		wantErr string
	}{
		{
			name: "tls secret with base64 data",
			yaml: `apiVersion: v1
kind: Secret
metadata: {name: cert, namespace: istio-system}
type: kubernetes.io/tls
data:
  tls.crt: Y2VydA==
  tls.key: a2V5
`,
			wantType: "kubernetes.io/tls",
			wantData: map[string]string{"tls.crt": "cert", "tls.key": "key"},
		},
		{
			name: "stringData wins over data on a shared key",
			yaml: `apiVersion: v1
kind: Secret
metadata: {name: cert}
data: {cert: b2xk, cacert: Y2E=}
stringData: {cert: new}
immutable: true
`,
			wantType: "Opaque",
			wantData: map[string]string{"cert": "new", "cacert": "ca"},
		},
		{
			name: "data must be base64",
			yaml: `apiVersion: v1
kind: Secret
metadata: {name: cert}
data: {cert: "not base64!"}
`,
			wantErr: "data.cert: invalid base64",
		},
		{
			name: "spec is not a Secret field",
			yaml: `apiVersion: v1
kind: Secret
metadata: {name: cert}
spec: {}
`,
			wantErr: `unknown field "spec"`,
		},
		{
			name: "bad key",
			yaml: `apiVersion: v1
kind: Secret
metadata: {name: cert}
stringData: {"a/b": x}
`,
			wantErr: "a Secret key may only contain",
		},
		{
			name: "stringData values are strings",
			yaml: `apiVersion: v1
kind: Secret
metadata: {name: cert}
stringData: {cert: [1]}
`,
			wantErr: "expected a string",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b Bundle
			diags := DecodeFile("secret.yaml", []byte(tt.yaml), &b)
			if tt.wantErr != "" {
				if len(diags) != 1 || !strings.Contains(diags[0].String(), tt.wantErr) {
					t.Fatalf("diagnostics = %v, want one containing %q", diags, tt.wantErr)
				}
				if len(b.Secrets) != 0 {
					t.Fatal("a Secret with an error was kept")
				}
				return
			}
			if len(diags) != 0 {
				t.Fatalf("unexpected diagnostics: %v", diags)
			}
			if len(b.Secrets) != 1 {
				t.Fatalf("got %d secrets, want 1", len(b.Secrets))
			}
			s := b.Secrets[0]
			if s.Type != tt.wantType {
				t.Errorf("type = %q, want %q", s.Type, tt.wantType)
			}
			if len(s.Data) != len(tt.wantData) {
				t.Errorf("data = %q, want %q", s.Data, tt.wantData)
			}
			for k, v := range tt.wantData {
				if string(s.Data[k]) != v {
					t.Errorf("data[%s] = %q, want %q", k, s.Data[k], v)
				}
			}
		})
	}
}
