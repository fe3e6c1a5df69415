package main

import (
	"context"
	"testing"
)

// TestServeSourceFlags checks the choice between files and Kubernetes,
// which fails before anything starts.
func TestServeSourceFlags(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"neither", nil},
		{"both", []string{"--config", t.TempDir(), "--kubeconfig", "kubeconfig"}},
		{"unreadable kubeconfig", []string{"--kubeconfig", t.TempDir() + "/missing"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if code := serveCmd(context.Background(), tt.args); code != 2 {
				t.Errorf("serve %v = %d, want 2", tt.args, code)
			}
		})
	}
}
