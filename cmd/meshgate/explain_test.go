package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/internal/admin"
	"github.com/meshgate/meshgate/internal/dataplane"
	"github.com/meshgate/meshgate/internal/pipeline"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
	"github.com/meshgate/meshgate/internal/translate"
)

var explainConfig = filepath.Join("..", "..", "internal", "explain", "testdata", "config.yaml")

func TestExplainCmd(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string
	}{
		{"route by header", []string{"--config", explainConfig, "--locality", "us-east/zone1", "http://shop.example.com/x", "-H", "end-user: jason"}, 0,
			[]string{"YES jason (VirtualService default/shop)", "100.0%  outbound|80|v2|reviews.example.internal", "endpoint: 10.0.2.1:80"}},
		{"404", []string{"--config", explainConfig, "http://nobody.example.org/"}, 0,
			[]string{`result    404 NR: no virtual host on 0.0.0.0_80 serves Host "nobody.example.org"`}},
		{"source-ip pick is stable", []string{"--config", explainConfig, "--client-address", "192.0.2.7", "http://sticky.example.com/", "-H", "x-user: zed"}, 0,
			[]string{"hash key: header x-user = \"zed\"", "RING_HASH maps the hash key"}},
		{"no url", []string{"--config", explainConfig}, 2, nil},
		{"both sources", []string{"--config", explainConfig, "--admin", "x:1", "http://a/"}, 2, nil},
		{"bad header", []string{"--config", explainConfig, "-H", "oops", "http://a/"}, 2, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, code := captureStdout(t, func() int { return explainCmd(context.Background(), tc.args) })
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d; output:\n%s", code, tc.wantCode, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestExplainAdmin explains against a running gateway's admin API: the
// configuration comes from /config_dump and the table from /clusters.
func TestExplainAdmin(t *testing.T) {
	b, diags := resource.LoadPaths(explainConfig)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	snap, _ := translate.Build(b, translate.Identity{})
	srv := dataplane.New(dataplane.Options{})
	defer srv.Close()
	srv.Apply(snap)
	adm := httptest.NewServer(admin.Handler(liveGateway{srv}))
	defer adm.Close()

	out, code := captureStdout(t, func() int {
		return explainCmd(context.Background(), []string{"--admin", adm.Listener.Addr().String(), "-o", "json",
			"http://sticky.example.com/", "-H", "x-user: alice"})
	})
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	var v struct {
		Route string `json:"route"`
		Split []struct {
			Balance struct {
				Live bool   `json:"live"`
				Pick string `json:"pick"`
			} `json:"balance"`
		} `json:"split"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if v.Route != "default/sticky/0" || len(v.Split) != 1 || !v.Split[0].Balance.Live || v.Split[0].Balance.Pick == "" {
		t.Errorf("unexpected explanation:\n%s", out)
	}
}

type liveGateway struct{ srv *dataplane.Server }

func (g liveGateway) Ready() bool                         { return true }
func (g liveGateway) Snapshot() *snapshot.Snapshot        { return g.srv.Snapshot() }
func (g liveGateway) Status() pipeline.Status             { return pipeline.Status{} }
func (g liveGateway) Clusters() []dataplane.ClusterStatus { return g.srv.Clusters() }

func TestValidateOutput(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dr.yaml")
	if err := os.WriteFile(path, []byte(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings, namespace: default}
spec:
  host: ratings.example.com
  trafficPolicy:
    loadBalancer:
      warmup: {duration: 10s, minimumPercent: 150}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := captureStdout(t, func() int { return validateCmd([]string{path}) })
	want := path + ":8: DestinationRule default/ratings: spec.trafficPolicy.loadBalancer.warmup.minimumPercent: Invalid value: 150: must be between 0 and 100 [MG2002]"
	if code != 1 || !strings.Contains(out, want) {
		t.Errorf("exit %d; want %q in:\n%s", code, want, out)
	}
	out, code = captureStdout(t, func() int { return validateCmd([]string{"--output", "json", path}) })
	var rep struct {
		Errors      int `json:"errors"`
		Diagnostics []struct {
			Severity string `json:"severity"`
			Code     string `json:"code"`
			Field    string `json:"field"`
			Origin   struct {
				Line int `json:"line"`
			} `json:"origin"`
		} `json:"diagnostics"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	found := false
	for _, d := range rep.Diagnostics {
		found = found || d.Code == "MG2002" && d.Severity == "error" && d.Origin.Line == 8 && d.Field == "spec.trafficPolicy.loadBalancer.warmup.minimumPercent"
	}
	if code != 1 || rep.Errors != 1 || !found {
		t.Errorf("exit %d, report %+v", code, rep)
	}
}
