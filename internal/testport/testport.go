// Package testport hands tests a local TCP port to bind later, for
// configurations that must name their ports before anything listens.
package testport

import (
	"math/rand/v2"
	"net"
	"strconv"
	"testing"
)

// The ports Free chooses from lie below Linux's ephemeral range
// (32768-60999), which the kernel hands to ":0" listeners and outgoing
// connections: a port found free here cannot be taken by either between
// Free and the test's own bind, only by another test choosing the same
// one of these 12,000 at random.
const (
	low  = 20000
	high = 32000
)

// Free returns a port on 127.0.0.1 that nothing listens on now.
func Free(t testing.TB) int {
	t.Helper()
	for range 100 {
		port := low + rand.IntN(high-low)
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		ln.Close()
		return port
	}
	t.Fatal("no free port in 20000-32000 on 127.0.0.1")
	return 0
}
