package tcpproxy

import (
	"context"
	"fmt"
	"net"
	"sync"

	"github.com/meshgate/meshgate/internal/snapshot"
)

// EndpointDialer is a Dialer over the endpoints a snapshot lists: it takes
// the healthy endpoints of the cluster's closest priority in turn (round
// robin) and dials one. It reads the snapshot on every dial, so it follows
// configuration changes. It knows nothing of outlier detection or load;
// the data plane's cluster runtime is the Dialer to use where it is
// available.
type EndpointDialer struct {
	// Snapshot returns the snapshot serving now (nil before the first).
	Snapshot func() *snapshot.Snapshot
	// Dial dials an address; nil uses a net.Dialer.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)

	mu   sync.Mutex
	next map[string]uint64
}

// DialCluster implements Dialer.
func (d *EndpointDialer) DialCluster(ctx context.Context, cluster string) (net.Conn, string, error) {
	var c *snapshot.Cluster
	if snap := d.Snapshot(); snap != nil {
		c = snap.Cluster(cluster)
	}
	if c == nil {
		return nil, "", fmt.Errorf("%w: %s", ErrNoCluster, cluster)
	}
	var eps []string
	best := ^uint32(0)
	for _, ep := range c.Endpoints {
		if ep.Health != "" && ep.Health != snapshot.Healthy {
			continue
		}
		switch {
		case ep.Priority < best:
			best, eps = ep.Priority, append(eps[:0], ep.Address)
		case ep.Priority == best:
			eps = append(eps, ep.Address)
		}
	}
	if len(eps) == 0 {
		return nil, "", fmt.Errorf("%w: %s", ErrNoHealthyUpstream, cluster)
	}
	d.mu.Lock()
	if d.next == nil {
		d.next = map[string]uint64{}
	}
	i := d.next[cluster]
	d.next[cluster] = i + 1
	d.mu.Unlock()
	addr := eps[i%uint64(len(eps))]

	dial := d.Dial
	if dial == nil {
		var nd net.Dialer
		dial = nd.DialContext
	}
	conn, err := dial(ctx, "tcp", addr)
	return conn, addr, err
}
