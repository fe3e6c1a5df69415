package dataplane

import (
	"net"
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
}

type listenerState struct {
	spec  *snapshot.Listener
	table *router.Table
}

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
	}
	for _, l := range snap.Listeners {
		st.listeners[SocketAddress(l)] = &listenerState{spec: l, table: router.New(l)}
	}
	return st
}
