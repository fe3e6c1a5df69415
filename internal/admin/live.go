package admin

import (
	_ "embed"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/meshgate/meshgate/internal/dataplane"
	"github.com/meshgate/meshgate/internal/telemetry/live"
)

// The live page (/ui) is one HTML file with its script inline, embedded
// in the binary: no build step, nothing fetched from elsewhere. It polls
// /ui/data, which this file computes.

//go:embed live.html
var livePage []byte

// DefaultHealthSampleInterval is how often the live page's health
// history records the clusters' endpoint health.
const DefaultHealthSampleInterval = 5 * time.Second

// healthSamples is how many samples the history keeps: the live
// window.
func healthSamples(every time.Duration) int {
	return max(2, int(live.Window/every))
}

// Live serves the live page and keeps the endpoint-health history it
// shows.
type Live struct {
	g     Gateway
	rec   *live.Recorder
	every time.Duration
	now   func() time.Time

	mu      sync.Mutex
	history map[string][]healthSample

	stop chan struct{}
	done chan struct{}
}

type healthSample struct {
	Time      int64 `json:"t"`
	Healthy   int   `json:"healthy"`
	Ejected   int   `json:"ejected"`
	Unhealthy int   `json:"unhealthy"`
	Draining  int   `json:"draining"`
}

// NewLive starts recording the clusters' health every interval (0
// selects DefaultHealthSampleInterval); Close stops it.
func NewLive(g Gateway, rec *live.Recorder, every time.Duration) *Live {
	if every <= 0 {
		every = DefaultHealthSampleInterval
	}
	l := &Live{g: g, rec: rec, every: every, now: time.Now, history: map[string][]healthSample{},
		stop: make(chan struct{}), done: make(chan struct{})}
	go l.run()
	return l
}

// Close stops the health sampling.
func (l *Live) Close() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
}

func (l *Live) run() {
	defer close(l.done)
	t := time.NewTicker(l.every)
	defer t.Stop()
	l.sample(l.g.Clusters())
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.sample(l.g.Clusters())
		}
	}
}

func (l *Live) sample(cs []dataplane.ClusterStatus) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sampleLocked(cs)
}

func (l *Live) sampleLocked(cs []dataplane.ClusterStatus) {
	now := l.now().Unix()
	keep := healthSamples(l.every)
	seen := make(map[string]bool, len(cs))
	for _, c := range cs {
		h := append(l.history[c.Name], sampleOf(&c, now))
		if len(h) > keep {
			h = h[len(h)-keep:]
		}
		l.history[c.Name] = h
		seen[c.Name] = true
	}
	// Clusters no longer configured leave the page.
	for name := range l.history {
		if !seen[name] {
			delete(l.history, name)
		}
	}
}

func sampleOf(c *dataplane.ClusterStatus, now int64) healthSample {
	s := healthSample{Time: now}
	for _, e := range c.Endpoints {
		switch e.Health {
		case "HEALTHY":
			s.Healthy++
		case "EJECTED":
			s.Ejected++
		case "DRAINING":
			s.Draining++
		default:
			s.Unhealthy++
		}
	}
	return s
}

// WithLive serves the live page on /ui and its data on /ui/data, and
// everything else with h.
func WithLive(h http.Handler, l *Live) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("GET /ui", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(livePage)
	})
	mux.HandleFunc("GET /ui/data", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, l.data())
	})
	return mux
}

type liveData struct {
	Version uint64 `json:"version"`
	// Time is when the data was computed, Unix milliseconds.
	Time int64 `json:"time"`
	// RequestRate and ErrorRate are per second over the last 10 s;
	// errors are 5xx responses and requests without one.
	RequestRate float64 `json:"requestRate"`
	ErrorRate   float64 `json:"errorRate"`
	// Traffic is requests and errors per 5 s over the live window.
	Traffic     []live.Point  `json:"traffic"`
	Window      int           `json:"windowSeconds"`
	SplitWindow int           `json:"splitWindowSeconds"`
	Routes      []liveRoute   `json:"routes"`
	Clusters    []liveCluster `json:"clusters"`
}

type liveRoute struct {
	Listener     string            `json:"listener"`
	Hosts        string            `json:"hosts"`
	Name         string            `json:"name"`
	Match        []string          `json:"match,omitempty"`
	Action       string            `json:"action,omitempty"`
	Destinations []liveDestination `json:"destinations,omitempty"`
}

type liveDestination struct {
	destinationView
	// Observed is the requests the destination got in the split window;
	// ObservedPercent its share of the route's.
	Observed        int64   `json:"observed"`
	ObservedPercent float64 `json:"observedPercent"`
}

type liveCluster struct {
	Name           string         `json:"name"`
	Service        string         `json:"service"`
	Port           uint32         `json:"port"`
	Subset         string         `json:"subset,omitempty"`
	Balancing      string         `json:"balancing"`
	ActiveRequests int64          `json:"activeRequests"`
	Outlier        bool           `json:"outlierDetection"`
	EjectionsTotal uint64         `json:"ejectionsTotal"`
	Priorities     []livePriority `json:"priorities"`
	History        []healthSample `json:"history"`
}

type livePriority struct {
	Priority   int            `json:"priority"`
	Load       int            `json:"load"`
	Panic      bool           `json:"panic"`
	Localities []liveLocality `json:"localities"`
}

type liveLocality struct {
	Locality  string                   `json:"locality"`
	Share     float64                  `json:"share,omitempty"`
	Endpoints []dataplane.EndpointLink `json:"endpoints"`
}

func (l *Live) data() liveData {
	now := l.now()
	d := liveData{
		Time: now.UnixMilli(), Traffic: l.rec.Series(now, 5*time.Second),
		SplitWindow: int(live.SplitWindow / time.Second), Window: int(live.Window / time.Second),
		Routes: []liveRoute{}, Clusters: []liveCluster{},
	}
	d.Version = l.g.Status().Version
	d.RequestRate, d.ErrorRate = l.rec.Rate(now, 10*time.Second)
	if snap := l.g.Snapshot(); snap != nil {
		for _, t := range routesView(snap) {
			for _, vh := range t.VirtualHosts {
				for _, r := range vh.Routes {
					lr := liveRoute{Listener: t.Listener, Hosts: strings.Join(vh.Domains, ", "), Name: r.Name, Match: r.Match}
					switch {
					case r.Redirect != "":
						lr.Action = "redirect " + r.Redirect
					case r.DirectResponse != 0:
						lr.Action = "direct response " + strconv.Itoa(int(r.DirectResponse))
					}
					var total int64
					for _, dv := range r.Destinations {
						n := l.rec.Split(now, r.Name, dv.Cluster)
						total += n
						lr.Destinations = append(lr.Destinations, liveDestination{destinationView: dv, Observed: n})
					}
					for i := range lr.Destinations {
						if total > 0 {
							lr.Destinations[i].ObservedPercent = float64(lr.Destinations[i].Observed) * 100 / float64(total)
						}
					}
					d.Routes = append(d.Routes, lr)
				}
			}
		}
	}
	cs := l.g.Clusters()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range cs {
		if len(l.history[c.Name]) == 0 {
			// A cluster new since the last sample starts its history now
			// rather than at the next tick.
			l.sampleLocked(cs)
			break
		}
	}
	for _, c := range cs {
		lc := liveCluster{
			Name: c.Name, Service: c.Service, Port: c.Port, Subset: c.Subset,
			Balancing: string(c.Balancing), ActiveRequests: c.ActiveRequests,
			Priorities: []livePriority{},
			// The graph ends with the state of this moment.
			History: append(slices.Clone(l.history[c.Name]), sampleOf(&c, now.Unix())),
		}
		if c.Outlier != nil {
			lc.Outlier = true
			lc.EjectionsTotal = c.Outlier.Stats.EjectionsTotal
		}
		for _, p := range c.Priorities.Levels {
			lp := livePriority{Priority: p.Priority, Load: p.HealthyLoad + p.DegradedLoad, Panic: p.Panic, Localities: []liveLocality{}}
			for _, loc := range p.Localities {
				lp.Localities = append(lp.Localities, liveLocality{Locality: loc.Locality, Share: loc.Share, Endpoints: loc.Endpoints})
			}
			lc.Priorities = append(lc.Priorities, lp)
		}
		d.Clusters = append(d.Clusters, lc)
	}
	return d
}
