package forwarded

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// FuzzXFF checks the X-Forwarded-For reader against a plain reference
// (split every line on commas, index from the right) and the invariants of
// Decide: the client is the peer or one of the list's addresses, the peer
// ends the forwarded list, and nothing panics.
func FuzzXFF(f *testing.F) {
	for _, s := range []string{
		envoyChain, "", ",", " , ,", "1.2.3.4,", ",1.2.3.4", "2001:db8::1, 10.0.0.1",
		"fe80::1%eth0", "1.2.3.4:80", "[::1]", "::ffff:1.2.3.4", "a,b,c,d,e,f",
		"192.0.2.4,, 198.51.100.1", "\t203.0.113.1\t", "1.2.3.4\n5.6.7.8",
	} {
		f.Add(s, "", uint8(1))
		f.Add(s, "198.51.100.9", uint8(2))
	}
	trusted := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/32")}
	f.Fuzz(func(t *testing.T, line1, line2 string, hops uint8) {
		lines := []string{line1}
		if line2 != "" {
			lines = append(lines, line2)
		}
		var entries []string
		for _, l := range lines {
			entries = append(entries, strings.Split(l, ",")...)
		}
		for n := range len(entries) + 2 {
			got, ok := nthFromRight(lines, n)
			var want netip.Addr
			wantOK := false
			if n < len(entries) {
				want, wantOK = parseEntry(entries[len(entries)-1-n])
			}
			if ok != wantOK || got != want {
				t.Fatalf("nthFromRight(%q, %d) = %v %v, want %v %v", lines, n, got, ok, want, wantOK)
			}
		}

		peer := netip.MustParseAddrPort("192.0.2.5:1")
		for _, s := range []*Settings{{NumTrustedProxies: uint32(hops % 4)}, {TrustedCIDRs: trusted}} {
			h := http.Header{"X-Forwarded-For": lines}
			d := Decide(&Conn{Peer: peer, Settings: s}, h, nil)
			if !strings.HasSuffix(d.XFF, peer.Addr().String()) {
				t.Fatalf("forwarded XFF %q does not end with the peer", d.XFF)
			}
			if d.Client != peer.Addr() {
				found := false
				for _, e := range entries {
					if a, ok := parseEntry(e); ok && a == d.Client {
						found = true
					}
				}
				if !found || d.Source != SourceXFF {
					t.Fatalf("client %v (%s) is neither the peer nor an entry of %q", d.Client, d.Source, lines)
				}
			}
			if len(s.TrustedCIDRs) > 0 && d.Source == SourceXFF && len(entries) > maxTrustedCIDREntries {
				t.Fatalf("trusted CIDR walk read %d entries", len(entries))
			}
			_ = d.Describe()
		}
	})
}
