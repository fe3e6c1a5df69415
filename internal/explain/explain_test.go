package explain

import (
	"bytes"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/meshgate/meshgate/internal/dataplane"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
	"github.com/meshgate/meshgate/internal/translate"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// testSnapshot compiles testdata/config.yaml for a gateway in us-east/zone1.
func testSnapshot(t *testing.T) *snapshot.Snapshot {
	t.Helper()
	b, diags := resource.LoadPaths(filepath.Join("testdata", "config.yaml"))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	snap, _ := translate.Build(b, translate.Identity{Locality: snapshot.Locality{Region: "us-east", Zone: "zone1"}})
	return snap
}

func newRequest(t *testing.T, method, url string, headers ...string) *http.Request {
	t.Helper()
	r, err := NewRequest(method, url, headers, "10.9.8.7")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestExplainGolden(t *testing.T) {
	snap := testSnapshot(t)
	tests := []struct {
		name    string
		method  string
		url     string
		headers []string
		status  int
	}{
		{"match-split", "GET", "http://shop.example.com/products", nil, 0},
		{"match-header", "GET", "http://shop.example.com/products", []string{"end-user: jason"}, 0},
		{"direct-response", "POST", "http://shop.example.com/admin/users", nil, 403},
		{"404-no-virtual-host", "GET", "http://other.example.org/", nil, 404},
		{"404-no-route", "GET", "http://eu.api.example.com/v2/items", nil, 404},
		{"503-no-cluster", "GET", "http://eu.api.example.com/ghost/x", nil, 503},
		{"503-no-endpoints", "GET", "http://empty.example.com/", nil, 503},
		{"consistent-hash", "GET", "http://sticky.example.com/cart", []string{"x-user: alice"}, 0},
		{"no-listener", "GET", "http://shop.example.com:8443/", nil, 0},
		{"upstream-tls", "GET", "http://partner.example.com/v1/quotes", nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRequest(t, tc.method, tc.url, tc.headers...)
			res := Explain(snap, Input{Request: r, Port: RequestPort(r.Host, false)})
			if res.Status != tc.status {
				t.Errorf("status %d, want %d (%s)", res.Status, tc.status, res.Reason)
			}
			var buf bytes.Buffer
			if err := Write(&buf, tc.method+" "+tc.url, res); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", "golden", tc.name+".txt"), buf.Bytes())
		})
	}
}

// TestConsistentHashIsStable checks that one key always maps to one
// endpoint and that keys spread over the endpoints.
func TestConsistentHashIsStable(t *testing.T) {
	snap := testSnapshot(t)
	seen := map[string]bool{}
	for _, user := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		var pick string
		for range 3 {
			r := newRequest(t, "GET", "http://sticky.example.com/", "x-user: "+user)
			res := Explain(snap, Input{Request: r, Port: 80})
			p := res.Split[0].Balance.Pick
			if pick != "" && p != pick {
				t.Fatalf("user %s went to %s, then %s", user, pick, p)
			}
			pick = p
		}
		seen[pick] = true
	}
	if len(seen) < 2 {
		t.Errorf("8 keys all went to %v", seen)
	}
}

// TestLiveEjection checks that with the live state of a running gateway,
// an ejected endpoint is not picked: keys that map to it offline go
// elsewhere (one of three ejected leaves the priority out of panic).
func TestLiveEjection(t *testing.T) {
	snap := testSnapshot(t)
	srv := dataplane.New(dataplane.Options{})
	defer srv.Close()
	srv.Apply(snap)
	live := srv.Clusters()
	const cluster, ejected = "outbound|80||sticky.example.internal", "10.0.3.1:80"
	for i := range live {
		if live[i].Name != cluster {
			continue
		}
		for j := range live[i].Endpoints {
			if live[i].Endpoints[j].Address == ejected {
				live[i].Endpoints[j].Health = "EJECTED"
			}
		}
	}
	moved := 0
	for _, user := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"} {
		r := newRequest(t, "GET", "http://sticky.example.com/", "x-user: "+user)
		offline := Explain(snap, Input{Request: r, Port: 80}).Split[0].Balance
		b := Explain(snap, Input{Request: r, Port: 80, Live: live}).Split[0].Balance
		if !b.Live || b.Pick == ejected || b.Pick == "" {
			t.Fatalf("user %s: live %v, pick %q", user, b.Live, b.Pick)
		}
		if offline.Pick == ejected {
			moved++
		}
	}
	if moved == 0 {
		t.Error("no key mapped to the ejected endpoint offline; the test proves nothing")
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
