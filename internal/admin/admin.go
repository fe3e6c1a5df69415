// Package admin serves the operator endpoints: the admin API (readiness,
// config dump, clusters, diagnostics) on the admin address, and the
// readiness probe on the status port that load balancers and Kubernetes
// poll.
package admin

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"slices"

	"github.com/meshgate/meshgate/internal/dataplane"
	"github.com/meshgate/meshgate/internal/pipeline"
	"github.com/meshgate/meshgate/internal/snapshot"
)

// Gateway is what the admin endpoints inspect.
type Gateway interface {
	// Ready reports whether the gateway serves its configuration.
	Ready() bool
	Snapshot() *snapshot.Snapshot
	Status() pipeline.Status
	Clusters() []dataplane.ClusterStatus
}

// index lists the admin endpoints.
const index = `meshgate admin

/ui                 live page
/ready
/config_dump
/clusters
/listeners
/routes
/diagnostics
/stats/prometheus
/debug/pprof/
`

// Handler returns the admin API.
func Handler(g Gateway) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, _ *http.Request) { readiness(w, g) })
	mux.HandleFunc("GET /config_dump", func(w http.ResponseWriter, _ *http.Request) {
		snap := g.Snapshot()
		if snap == nil {
			http.Error(w, "no configuration applied yet", http.StatusServiceUnavailable)
			return
		}
		out, err := snapshot.Dump(snap)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	})
	// /clusters lists every cluster with its priority table, endpoint
	// health, outlier detection and spillover state; ?cluster=<name>
	// narrows it to one cluster, whose names are long to scroll for.
	mux.HandleFunc("GET /clusters", func(w http.ResponseWriter, r *http.Request) {
		cs := g.Clusters()
		if name := r.URL.Query().Get("cluster"); name != "" {
			cs = slices.DeleteFunc(cs, func(c dataplane.ClusterStatus) bool { return c.Name != name })
		}
		writeJSON(w, cs)
	})
	mux.HandleFunc("GET /diagnostics", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, g.Status())
	})
	mux.HandleFunc("GET /listeners", listenersHandler(g))
	mux.HandleFunc("GET /routes", routesHandler(g))
	// Go's profiler, on the admin mux only: the admin address binds
	// 127.0.0.1 by default, and nothing else serves these handlers.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(index))
	})
	return mux
}

// StatusHandler returns the status-port handler: /healthz/ready, as the
// Istio ingress gateway serves it on :15021.
func StatusHandler(g Gateway) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz/ready", func(w http.ResponseWriter, _ *http.Request) { readiness(w, g) })
	return mux
}

// readiness answers like Envoy's /ready: 200 "LIVE" once serving, else 503.
func readiness(w http.ResponseWriter, g Gateway) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	// Details (a source still syncing, an API server lost while the last
	// configuration keeps serving) follow the state, one per line; probes
	// read only the status code.
	var details []string
	if d, ok := g.(interface{ ReadinessDetails() []string }); ok {
		details = d.ReadinessDetails()
	}
	ready := g.Ready()
	state := "LIVE\n"
	if !ready {
		state = "PRE_INITIALIZING\n"
	}
	// A gateway that knows better (DRAINING once shutdown began) says so.
	if s, ok := g.(interface{ ReadinessState() string }); ok {
		state = s.ReadinessState() + "\n"
	}
	if !ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = w.Write([]byte(state))
	for _, line := range details {
		_, _ = w.Write([]byte(line + "\n"))
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(out, '\n'))
}
