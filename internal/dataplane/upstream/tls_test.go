package upstream

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/meshgate/meshgate/internal/snapshot"
	"github.com/meshgate/meshgate/internal/testpki"
)

// TestAutoSNIPoolsUnderReload sends requests for many hosts through a TLS
// cluster with auto SNI (a connection pool per host, made on first use)
// while the registry rebuilds and forgets sets, as configuration reloads
// do: under the race detector, making a pool must not touch the
// registry's state. Each request must reach the backend with its own host
// as SNI.
func TestAutoSNIPoolsUnderReload(t *testing.T) {
	ca := testpki.NewCA(t, "ca")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.TLS.ServerName)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Server(t, "*.example.com").TLS}}
	srv.StartTLS()
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	testpki.WriteFile(t, caFile, ca.CertPEM)

	c := &snapshot.Cluster{
		Name: "c", LB: snapshot.LBPolicy{Kind: snapshot.LBRoundRobin},
		Endpoints: []snapshot.Endpoint{{Address: srv.Listener.Addr().String(), Weight: 1}},
		TLS:       &snapshot.UpstreamTLS{Mode: snapshot.UpstreamSimple, AutoSNI: true, CA: &snapshot.CASource{File: caFile}},
	}
	r := NewRegistry(nil)
	set := buildSet(t, r, c)
	stop := make(chan struct{})
	var reloads sync.WaitGroup
	reloads.Add(1)
	go func() {
		defer reloads.Done()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
				// A cluster that comes and goes, so the registry's
				// cluster state is written while pools are made.
				other := &snapshot.Cluster{Name: "other-" + strconv.Itoa(n), LB: c.LB, TLS: c.TLS}
				buildSet(t, r, c, other)
				r.Forget(buildSet(t, r, c))
			}
		}
	}()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 5 {
				host := "h" + strconv.Itoa(i*5+j) + ".example.com"
				req, _ := http.NewRequest(http.MethodGet, "http://"+srv.Listener.Addr().String()+"/", nil)
				req.Host = host
				resp, err := set.Cluster("c").Transport.RoundTrip(req)
				if err != nil {
					t.Errorf("%s: %v", host, err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(body) != host {
					t.Errorf("%s: the backend saw SNI %q", host, body)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	reloads.Wait()
}

// TestAutoSNIPoolsAreBounded: host names come from clients, so an auto-SNI
// cluster keeps at most maxSNIPools pools.
func TestAutoSNIPoolsAreBounded(t *testing.T) {
	made := 0
	tt := &tlsTransport{auto: true, make: func() *http.Transport { made++; return &http.Transport{} }}
	for i := range maxSNIPools + 50 {
		tt.forHost("h" + strconv.Itoa(i) + ".example.com")
	}
	if len(tt.byHost) != maxSNIPools || made != maxSNIPools+50 {
		t.Errorf("%d pools kept, %d made; want %d kept", len(tt.byHost), made, maxSNIPools)
	}
	// A host seen again reuses its pool while it is kept.
	last := "h" + strconv.Itoa(maxSNIPools+49) + ".example.com"
	if tt.forHost(last) != tt.byHost[last] || made != maxSNIPools+50 {
		t.Error("a kept host got a new pool")
	}
}
