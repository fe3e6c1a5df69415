package explain

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/cespare/xxhash/v2"
	"github.com/meshgate/meshgate/internal/dataplane"
	"github.com/meshgate/meshgate/internal/dataplane/upstream"
	"github.com/meshgate/meshgate/internal/lb"
	"github.com/meshgate/meshgate/internal/snapshot"
)

// Balance is how a cluster balances this request.
type Balance struct {
	// LB is the load-balancing policy and Mode how priorities are used
	// (flat, priority, priority+spillover).
	LB   snapshot.LBKind    `json:"lb"`
	Mode upstream.Balancing `json:"mode"`
	// Live is set when the table comes from the running gateway.
	Live bool `json:"live"`
	// Locality says how the cluster's priorities were assigned.
	Locality *snapshot.LocalityPolicy `json:"locality,omitempty"`
	// PanicThreshold is the healthy percentage below which a priority
	// balances over all its hosts.
	PanicThreshold int        `json:"panicThreshold"`
	Priorities     []Priority `json:"priorities"`
	// HashKey describes the consistent-hash input of this request; empty
	// for other policies.
	HashKey string `json:"hashKey,omitempty"`
	// Pick is the endpoint the request goes to when that is determined
	// (consistent hash with a key, or a single eligible endpoint); How
	// says how the endpoint is chosen otherwise.
	Pick string `json:"pick,omitempty"`
	How  string `json:"how"`
}

// Priority is one priority level of a cluster.
type Priority struct {
	Priority     int        `json:"priority"`
	Load         int        `json:"load"`
	DegradedLoad int        `json:"degradedLoad,omitempty"`
	Hosts        int        `json:"hosts"`
	Healthy      int        `json:"healthy"`
	Panic        bool       `json:"panic,omitempty"`
	Localities   []Locality `json:"localities"`
}

// Locality is one locality of a priority level.
type Locality struct {
	Name      string     `json:"name"`
	Weight    uint32     `json:"weight,omitempty"`
	Share     float64    `json:"share,omitempty"`
	Endpoints []Endpoint `json:"endpoints"`
}

// Endpoint is one endpoint of a locality.
type Endpoint struct {
	Address string `json:"address"`
	Health  string `json:"health"`
	Active  int64  `json:"active,omitempty"`
}

// split explains each weighted destination of a route.
func split(snap *snapshot.Snapshot, rt *snapshot.Route, in Input) []Destination {
	var total uint64
	for _, d := range rt.Destinations {
		total += uint64(d.Weight)
	}
	out := make([]Destination, 0, len(rt.Destinations))
	for _, wd := range rt.Destinations {
		d := Destination{Cluster: wd.Cluster, Weight: wd.Weight}
		switch {
		case len(rt.Destinations) == 1:
			d.Percent = 100
		case total > 0:
			d.Percent = 100 * float64(wd.Weight) / float64(total)
		}
		c := snap.Cluster(wd.Cluster)
		if c == nil {
			d.Status, d.Flags = http.StatusServiceUnavailable, "NC"
			d.Reason = "cluster " + wd.Cluster + " does not exist: its service, port or subset is not defined (`meshgate validate` names which)"
			out = append(out, d)
			continue
		}
		d.Service, d.Subset = c.Service, c.Subset
		d.Upstream = upstreamWords(c, upstreamHost(in.Request.Host, rt, wd, c))
		d.Balance = balance(c, in)
		if d.Balance.Pick == "" && !d.Balance.eligible() {
			d.Status, d.Flags = http.StatusServiceUnavailable, "UH"
			d.Reason = "cluster " + c.Name + " has no healthy endpoint"
			if len(c.Endpoints) == 0 {
				d.Reason = "cluster " + c.Name + " has no endpoints (no WorkloadEntry, ServiceEntry endpoint or pod backs " + c.Service + ")"
			}
			d.Reason += ": no healthy upstream"
		}
		out = append(out, d)
	}
	return out
}

func (b *Balance) eligible() bool {
	for _, p := range b.Priorities {
		if p.Load > 0 || p.DegradedLoad > 0 {
			return true
		}
	}
	return false
}

// balance builds the cluster's picker as the data plane does, with the
// endpoints' health from the live view when there is one, and asks it.
func balance(c *snapshot.Cluster, in Input) *Balance {
	b := &Balance{LB: c.LB.Kind, Locality: c.Locality}
	if b.LB == "" {
		b.LB = snapshot.LBLeastRequest
	}
	sc := c
	var live *dataplane.ClusterStatus
	for i := range in.Live {
		if in.Live[i].Name == c.Name {
			live = &in.Live[i]
		}
	}
	if live != nil {
		b.Live = true
		sc = withLiveHealth(c, live)
	}
	one := &snapshot.Snapshot{Clusters: []*snapshot.Cluster{sc}}
	one.Seal()
	reg := upstream.NewRegistry(nil)
	defer reg.Close()
	uc := reg.Build(one, lb.Options{Rand: firstRand{}}).Cluster(sc.Name)
	b.Mode = uc.Balancing()
	if live != nil {
		b.Priorities = fromLive(live.Priorities)
		b.PanicThreshold = live.Priorities.PanicThreshold
	} else {
		t := uc.Table()
		b.PanicThreshold = t.PanicThreshold
		for _, p := range t.Priorities {
			pr := Priority{Priority: p.Priority, Load: p.HealthyLoad, DegradedLoad: p.DegradedLoad, Hosts: p.Hosts, Healthy: p.Healthy, Panic: p.Panic}
			for _, l := range p.Localities {
				loc := Locality{Name: l.Locality, Weight: l.Weight, Share: l.Share}
				for _, h := range l.Hosts {
					loc.Endpoints = append(loc.Endpoints, Endpoint{Address: h.Address, Health: h.Health.String()})
				}
				pr.Localities = append(pr.Localities, loc)
			}
			b.Priorities = append(b.Priorities, pr)
		}
	}

	req := lb.Request{}
	if h := c.LB.Hash; h != nil {
		key, hash, ok := hashKey(in.Request, h)
		b.HashKey = key
		req.Hash, req.HasHash = hash, ok
	}
	eligible := 0
	for _, p := range b.Priorities {
		if p.Load > 0 || p.DegradedLoad > 0 {
			for _, l := range p.Localities {
				for _, e := range l.Endpoints {
					if p.Panic || e.Health == "HEALTHY" {
						eligible++
					}
				}
			}
		}
	}
	host := uc.Pick(&req)
	switch {
	case host == nil:
		b.How = "no endpoint is eligible"
	case req.HasHash:
		b.Pick = host.Address
		b.How = string(b.LB) + " maps the hash key to this endpoint; requests with the same key go to it while the endpoint set stays the same"
	case eligible == 1:
		b.Pick = host.Address
		b.How = "it is the only eligible endpoint"
	default:
		b.How = pickHow(b.LB, c.LB.Hash != nil) + spreadOf(b)
	}
	return b
}

// pickHow describes a policy whose choice depends on chance or load.
func pickHow(kind snapshot.LBKind, hashed bool) string {
	switch {
	case hashed:
		return "the request has no hash key, so " + string(kind) + " picks at random, as Envoy does"
	case kind == snapshot.LBRoundRobin:
		return "ROUND_ROBIN takes the endpoints in turn, by weight"
	case kind == snapshot.LBRandom:
		return "RANDOM picks an endpoint at random, by weight"
	}
	return "LEAST_REQUEST picks two endpoints at random and sends to the one with fewer active requests"
}

// spreadOf says which priorities take traffic.
func spreadOf(b *Balance) string {
	var parts []string
	for _, p := range b.Priorities {
		if p.Load > 0 {
			s := fmt.Sprintf("priority %d takes %d%%", p.Priority, p.Load)
			if p.Panic {
				s += " in panic mode (all its hosts, healthy or not)"
			}
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return ", within the priority chosen by load: " + strings.Join(parts, ", ")
}

// withLiveHealth returns a copy of c whose endpoints the running gateway
// does not consider healthy (source health or outlier ejection) are
// marked unhealthy, so the picker built from it sees what the gateway's
// sees.
func withLiveHealth(c *snapshot.Cluster, live *dataplane.ClusterStatus) *snapshot.Cluster {
	health := map[string]string{}
	for _, e := range live.Endpoints {
		health[e.Address] = e.Health
	}
	cp := *c
	cp.Endpoints = append([]snapshot.Endpoint(nil), c.Endpoints...)
	for i := range cp.Endpoints {
		if h, ok := health[cp.Endpoints[i].Address]; ok && h != string(snapshot.Healthy) {
			cp.Endpoints[i].Health = snapshot.Unhealthy
		}
	}
	// Ejections are already in the health above; a fresh detector must
	// not add its own.
	cp.Outlier = nil
	return &cp
}

func fromLive(t dataplane.PriorityTable) []Priority {
	var out []Priority
	for _, p := range t.Levels {
		pr := Priority{Priority: p.Priority, Load: p.HealthyLoad, DegradedLoad: p.DegradedLoad, Hosts: p.Hosts, Healthy: p.Healthy, Panic: p.Panic}
		for _, l := range p.Localities {
			loc := Locality{Name: l.Locality, Weight: l.Weight, Share: l.Share}
			for _, e := range l.Endpoints {
				loc.Endpoints = append(loc.Endpoints, Endpoint{Address: e.Address, Health: e.Health, Active: e.ActiveRequests})
			}
			pr.Localities = append(pr.Localities, loc)
		}
		out = append(out, pr)
	}
	return out
}

// hashKey computes the consistent-hash key the data plane computes
// (dataplane/hash.go) and describes it. A cookie policy with a TTL and
// no cookie makes the gateway generate one, so that request's endpoint is
// random.
func hashKey(r *http.Request, p *snapshot.HashPolicy) (string, uint64, bool) {
	switch {
	case p.Header != "":
		vs := r.Header.Values(p.Header)
		if len(vs) == 0 {
			return "header " + p.Header + " (absent)", 0, false
		}
		v := strings.Join(vs, ", ")
		return fmt.Sprintf("header %s = %q", p.Header, v), xxhash.Sum64String(v), true
	case p.Cookie != nil:
		if c, err := r.Cookie(p.Cookie.Name); err == nil {
			return fmt.Sprintf("cookie %s = %q", p.Cookie.Name, c.Value), xxhash.Sum64String(c.Value), true
		}
		if p.Cookie.TTL != nil {
			return "cookie " + p.Cookie.Name + " (absent: the gateway sets a new one, so this request's endpoint is random and the next ones stick)", 0, false
		}
		return "cookie " + p.Cookie.Name + " (absent)", 0, false
	case p.SourceIP:
		ip, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			ip = r.RemoteAddr
		}
		return "source IP " + ip, xxhash.Sum64String(ip), true
	case p.QueryParam != "":
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil || len(q[p.QueryParam]) == 0 {
			return "query parameter " + p.QueryParam + " (absent)", 0, false
		}
		v := q[p.QueryParam][0]
		return fmt.Sprintf("query parameter %s = %q", p.QueryParam, v), xxhash.Sum64String(v), true
	}
	return "", 0, false
}

// firstRand makes picks reproducible; they are shown only when they do
// not depend on chance.
type firstRand struct{}

func (firstRand) IntN(int) int   { return 0 }
func (firstRand) Uint64() uint64 { return 0 }
