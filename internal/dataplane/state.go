package dataplane

import (
	"net"
	"regexp"
	"strconv"

	"github.com/meshgate/meshgate/internal/dataplane/router"
	"github.com/meshgate/meshgate/internal/dataplane/upstream"
	"github.com/meshgate/meshgate/internal/snapshot"
)

// state is everything a request needs, derived from one snapshot. It is
// published atomically and never modified; a request loads it once.
type state struct {
	snap      *snapshot.Snapshot
	listeners map[string]*listenerState // by socket address
	upstreams *upstream.Set
	// plans holds each route's policies prepared for the request path.
	plans map[*snapshot.Route]*routePlan
}

type listenerState struct {
	spec  *snapshot.Listener
	table *router.Table
}

// routePlan is what the request path needs of a route's policies in a
// ready-to-use form, built once per snapshot.
type routePlan struct {
	retry retryPolicy
	// uriRegex is Rewrite.URIRegex compiled.
	uriRegex *regexp.Regexp
	// origins are the CORS allowOrigins matchers.
	origins []originMatcher
}

// noPlan serves a route the state did not prepare (it cannot happen with
// routes from the state's own tables, but costs nothing to guard).
var noPlan = &routePlan{}

// SocketAddress is the address a listener binds: its Bind IP (all
// addresses when empty) and BindPort.
func SocketAddress(l *snapshot.Listener) string {
	return net.JoinHostPort(l.Bind, strconv.FormatUint(uint64(l.BindPort), 10))
}

func newState(snap *snapshot.Snapshot, ups *upstream.Set) *state {
	st := &state{
		snap:      snap,
		listeners: make(map[string]*listenerState, len(snap.Listeners)),
		upstreams: ups,
		plans:     map[*snapshot.Route]*routePlan{},
	}
	for _, l := range snap.Listeners {
		st.listeners[SocketAddress(l)] = &listenerState{spec: l, table: router.New(l)}
		for _, vh := range l.VirtualHosts {
			for _, rt := range vh.Routes {
				if st.plans[rt] == nil {
					st.plans[rt] = newRoutePlan(rt)
				}
			}
		}
	}
	return st
}

func (st *state) plan(rt *snapshot.Route) *routePlan {
	if p := st.plans[rt]; p != nil {
		return p
	}
	return noPlan
}

func newRoutePlan(rt *snapshot.Route) *routePlan {
	p := &routePlan{retry: newRetryPolicy(rt.Retry)}
	if rw := rt.Rewrite; rw != nil && rw.URIRegex != nil {
		p.uriRegex = rw.URIRegex.Compiled
		if p.uriRegex == nil {
			// translate compiles it; a hand-built snapshot may not have.
			// A pattern that does not compile rewrites nothing.
			p.uriRegex, _ = regexp.Compile(rw.URIRegex.Match)
		}
	}
	if c := rt.CORS; c != nil {
		for i := range c.AllowOrigins {
			p.origins = append(p.origins, newOriginMatcher(&c.AllowOrigins[i]))
		}
	}
	return p
}
