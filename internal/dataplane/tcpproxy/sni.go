package tcpproxy

import (
	"strings"

	"github.com/meshgate/meshgate/internal/snapshot"
)

// Scores of MatchSNI: higher is more specific. A suffix wildcard scores
// the length of its suffix, which is always below exactScore.
const (
	NoMatch    = -1
	anyScore   = 0
	exactScore = 1 << 20
)

// MatchSNI scores how specifically the names (lower-case; "*.suffix" and
// "*" wildcards, as Gateway server hosts and tls route sniHosts are
// written) match the SNI sni (lower-case, "" when absent): an exact name
// beats the longest "*." suffix, which beats "*". It is Envoy's filter
// chain order: server_names exact, then the longest wildcard, then a chain
// without server names. A connection without SNI only matches "*".
// NoMatch means none matches.
func MatchSNI(names []string, sni string) int {
	best := NoMatch
	for _, n := range names {
		var s int
		switch {
		case n == "*":
			s = anyScore
		case sni == "":
			continue
		case strings.HasPrefix(n, "*."):
			suffix := n[1:] // ".example.com"
			if len(sni) <= len(suffix) || !strings.HasSuffix(sni, suffix) {
				continue
			}
			s = len(suffix)
		case n == sni:
			s = exactScore
		default:
			continue
		}
		if s > best {
			best = s
		}
	}
	return best
}

// RouteFor returns the route a connection with SNI sni takes: the one
// whose SNIHosts match most specifically, the first on a tie. A route
// without SNIHosts takes any connection, at the lowest rank. It returns
// nil when no route matches: the connection is then closed.
func RouteFor(routes []*snapshot.L4Route, sni string) *snapshot.L4Route {
	var best *snapshot.L4Route
	bestScore := NoMatch
	for _, r := range routes {
		s := anyScore
		if len(r.SNIHosts) > 0 {
			s = MatchSNI(r.SNIHosts, sni)
		}
		if s > bestScore {
			best, bestScore = r, s
		}
	}
	return best
}
