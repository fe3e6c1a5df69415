package forwarded

import (
	"crypto/tls"
	"net/http"
	"net/netip"
	"testing"
)

// envoyChain is the X-Forwarded-For of Envoy's documented examples 1 and 3
// (configuration/http/http_conn_man/headers, "x-forwarded-for"):
//
//	Downstream IP address = 192.0.2.5
//	XFF = "203.0.113.128, 203.0.113.10, 203.0.113.1"
const (
	envoyPeer  = "192.0.2.5"
	envoyChain = "203.0.113.128, 203.0.113.10, 203.0.113.1"
)

// TestClientAddressTable runs X-Forwarded-For chains against
// numTrustedProxies 0, 1 and 2 at a gateway (use_remote_address: true).
// Every row states the trusted client address and the headers sent
// upstream. The rules, from Envoy's documentation:
//
//   - "If use_remote_address is true and xff_num_trusted_hops is set to a
//     value N that is greater than zero, the trusted client address is the
//     Nth address from the right end of XFF. (If the XFF contains fewer
//     than N addresses, Envoy falls back to using the immediate downstream
//     connection's source address as trusted client address.)"
//   - otherwise "the trusted client address is the source IP address of
//     the immediate downstream node's connection to Envoy";
//   - the downstream address is appended to XFF, x-envoy-external-address
//     is set to the trusted client address for external requests, and
//     X-Envoy-Internal is removed.
func TestClientAddressTable(t *testing.T) {
	type row struct {
		name string
		xff  []string // X-Forwarded-For lines; nil: no header
		hops uint32
		// client is the trusted client address (= x-envoy-external-address).
		client string
		source Source
		// xffOut is the X-Forwarded-For sent upstream.
		xffOut string
	}
	rows := []row{
		// Envoy "Example 1: Envoy as edge proxy, without a trusted proxy in
		// front of it": Trusted client address = 192.0.2.5 (XFF is
		// ignored); X-Envoy-External-Address is set to 192.0.2.5; XFF is
		// changed to "203.0.113.128, 203.0.113.10, 203.0.113.1, 192.0.2.5".
		{"envoy example 1", []string{envoyChain}, 0, "192.0.2.5", SourceConnection,
			"203.0.113.128, 203.0.113.10, 203.0.113.1, 192.0.2.5"},
		// One trusted hop: the rightmost address, put there by the hop.
		{"envoy chain, 1 hop", []string{envoyChain}, 1, "203.0.113.1", SourceXFF,
			"203.0.113.128, 203.0.113.10, 203.0.113.1, 192.0.2.5"},
		// Envoy "Example 3: Envoy as edge proxy, with two trusted external
		// proxies in front of it": Trusted client address = 203.0.113.10
		// (2nd to last address in XFF is trusted); X-Envoy-External-Address
		// is set to 203.0.113.10; XFF is changed to "203.0.113.128,
		// 203.0.113.10, 203.0.113.1, 192.0.2.5".
		{"envoy example 3", []string{envoyChain}, 2, "203.0.113.10", SourceXFF,
			"203.0.113.128, 203.0.113.10, 203.0.113.1, 192.0.2.5"},

		// No X-Forwarded-For: the peer, whatever the hop count.
		{"no xff, 0 hops", nil, 0, envoyPeer, SourceConnection, "192.0.2.5"},
		{"no xff, 1 hop", nil, 1, envoyPeer, SourceConnection, "192.0.2.5"},
		{"no xff, 2 hops", nil, 2, envoyPeer, SourceConnection, "192.0.2.5"},

		// One address: enough for one hop; too few for two ("falls back to
		// using the immediate downstream connection's source address").
		{"single, 0 hops", []string{"203.0.113.1"}, 0, envoyPeer, SourceConnection, "203.0.113.1, 192.0.2.5"},
		{"single, 1 hop", []string{"203.0.113.1"}, 1, "203.0.113.1", SourceXFF, "203.0.113.1, 192.0.2.5"},
		{"single, 2 hops", []string{"203.0.113.1"}, 2, envoyPeer, SourceConnection, "203.0.113.1, 192.0.2.5"},

		// Without spaces, as many load balancers write it.
		{"no spaces, 1 hop", []string{"203.0.113.128,203.0.113.10"}, 1, "203.0.113.10", SourceXFF,
			"203.0.113.128,203.0.113.10, 192.0.2.5"},
		{"no spaces, 2 hops", []string{"203.0.113.128,203.0.113.10"}, 2, "203.0.113.128", SourceXFF,
			"203.0.113.128,203.0.113.10, 192.0.2.5"},

		// Two header lines are one list (RFC 9110 §5.3).
		{"two lines, 1 hop", []string{"203.0.113.128", "203.0.113.10, 203.0.113.1"}, 1, "203.0.113.1", SourceXFF,
			"203.0.113.128, 203.0.113.10, 203.0.113.1, 192.0.2.5"},
		{"two lines, 2 hops", []string{"203.0.113.128", "203.0.113.10, 203.0.113.1"}, 2, "203.0.113.10", SourceXFF,
			"203.0.113.128, 203.0.113.10, 203.0.113.1, 192.0.2.5"},

		// The trusted entry is not an IP address: the peer.
		{"garbage, 1 hop", []string{"203.0.113.128, unknown"}, 1, envoyPeer, SourceConnection,
			"203.0.113.128, unknown, 192.0.2.5"},
		{"garbage, 2 hops", []string{"203.0.113.128, unknown"}, 2, "203.0.113.128", SourceXFF,
			"203.0.113.128, unknown, 192.0.2.5"},
		{"with port, 1 hop", []string{"203.0.113.1:4711"}, 1, envoyPeer, SourceConnection,
			"203.0.113.1:4711, 192.0.2.5"},
		{"empty header, 1 hop", []string{""}, 1, envoyPeer, SourceConnection, "192.0.2.5"},

		// IPv6 entries.
		{"ipv6, 2 hops", []string{"2001:db8::1, 203.0.113.1"}, 2, "2001:db8::1", SourceXFF,
			"2001:db8::1, 203.0.113.1, 192.0.2.5"},
		{"ipv6 zone, 1 hop", []string{"fe80::1%eth0"}, 1, envoyPeer, SourceConnection,
			"fe80::1%eth0, 192.0.2.5"},

		// Istio's gateway topology page: numTrustedProxies 2 and XFF
		// "56.5.6.7, 72.9.5.6, 98.1.2.3" give external address 72.9.5.6.
		{"istio topology example", []string{"56.5.6.7, 72.9.5.6, 98.1.2.3"}, 2, "72.9.5.6", SourceXFF,
			"56.5.6.7, 72.9.5.6, 98.1.2.3, 192.0.2.5"},
	}
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tc.xff {
				h.Add("X-Forwarded-For", v)
			}
			h.Set("X-Envoy-Internal", "true") // a client's claim, always removed
			c := &Conn{
				Peer:     netip.MustParseAddrPort(envoyPeer + ":40000"),
				Settings: &Settings{NumTrustedProxies: tc.hops},
			}
			c.Socket = c.Peer
			r := &http.Request{Header: h, RemoteAddr: c.Peer.String()}
			r = r.WithContext(WithConn(r.Context(), c))
			r = Prepare(r)
			d := DecisionFrom(r.Context())
			if got := d.Client.String(); got != tc.client || d.Source != tc.source {
				t.Errorf("client = %s (%s), want %s (%s); note %q", got, d.Source, tc.client, tc.source, d.Note)
			}
			want := map[string]string{
				"X-Forwarded-For":          tc.xffOut,
				"X-Envoy-External-Address": tc.client,
				"X-Envoy-Internal":         "",
				"X-Forwarded-Proto":        "http",
			}
			for k, v := range want {
				if got := r.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			// The access log and source-IP hashing see the client.
			wantRemote := c.Peer.String()
			if tc.source == SourceXFF {
				wantRemote = netip.AddrPortFrom(netip.MustParseAddr(tc.client), 0).String()
			}
			if r.RemoteAddr != wantRemote {
				t.Errorf("RemoteAddr = %s, want %s", r.RemoteAddr, wantRemote)
			}
		})
	}
}

// TestForwardedProto states Envoy's rule: "Downstream x-forwarded-proto
// headers will only be trusted if xff_num_trusted_hops is non-zero. If
// xff_num_trusted_hops is zero, downstream x-forwarded-proto headers and
// :scheme headers will be set to http or https based on if the downstream
// connection is TLS or not." With trust, a missing header is set from the
// connection.
func TestForwardedProto(t *testing.T) {
	tlsConn := &tls.ConnectionState{}
	for _, tc := range []struct {
		name    string
		hops    uint32
		cidrs   []string
		tls     bool
		claimed string
		want    string
		trusted bool
	}{
		{"untrusted https claim on plain text", 0, nil, false, "https", "http", false},
		{"untrusted http claim on TLS", 0, nil, true, "http", "https", false},
		{"no claim, plain text", 0, nil, false, "", "http", false},
		{"no claim, TLS", 0, nil, true, "", "https", false},
		{"trusted https claim (TLS ends at the load balancer)", 1, nil, false, "https", "https", true},
		{"trusted http claim on TLS", 2, nil, true, "http", "http", true},
		{"trusted hop sent none", 1, nil, false, "", "http", false},
		{"peer in trusted CIDRs", 0, []string{"192.0.2.0/24"}, false, "https", "https", true},
		{"peer outside trusted CIDRs", 0, []string{"198.51.100.0/24"}, false, "https", "http", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Settings{NumTrustedProxies: tc.hops}
			for _, p := range tc.cidrs {
				s.TrustedCIDRs = append(s.TrustedCIDRs, netip.MustParsePrefix(p))
			}
			h := http.Header{}
			if tc.claimed != "" {
				h.Set("X-Forwarded-Proto", tc.claimed)
			}
			var cs *tls.ConnectionState
			if tc.tls {
				cs = tlsConn
			}
			d := Decide(&Conn{Peer: netip.MustParseAddrPort("192.0.2.5:1"), Settings: s}, h, cs)
			if d.Proto != tc.want || d.ProtoTrusted != tc.trusted {
				t.Errorf("proto = %q (trusted %v), want %q (trusted %v)", d.Proto, d.ProtoTrusted, tc.want, tc.trusted)
			}
			if want := !tc.trusted && tc.claimed == "https" && tc.want != "https"; d.UntrustedHTTPSClaim() != want {
				t.Errorf("UntrustedHTTPSClaim = %v, want %v", d.UntrustedHTTPSClaim(), want)
			}
		})
	}
}

// TestTrustedCIDRs uses the CIDRs and rows of Envoy's XffTrustedCidrsTest
// (original_ip_detection/xff): 192.0.2.0/24, 198.51.100.0/24 and
// 2001:db8:7e57:1::/64 are trusted; X-Forwarded-For is walked from the
// right past trusted addresses.
func TestTrustedCIDRs(t *testing.T) {
	s := &Settings{TrustedCIDRs: []netip.Prefix{
		netip.MustParsePrefix("192.0.2.0/24"),
		netip.MustParsePrefix("198.51.100.0/24"),
		netip.MustParsePrefix("2001:db8:7e57:1::/64"),
	}}
	for _, tc := range []struct {
		name, peer, xff, want string
		source                Source
	}{
		{"RemoteNotTrusted", "10.10.11.11", "1.2.3.4,2.2.2.2", "10.10.11.11", SourceConnection},
		{"RemoteIPv4IsTrusted", "192.0.2.11", "1.2.3.4,2.2.2.2", "2.2.2.2", SourceXFF},
		{"RemoteIPv6IsTrusted", "2001:db8:7e57:1::1", "1.2.3.4,2.2.2.2", "2.2.2.2", SourceXFF},
		{"Recurse", "192.0.2.11", "1.2.3.4,2.2.2.2,192.0.2.5, 198.51.100.1", "2.2.2.2", SourceXFF},
		{"RecurseAllAddressesTrusted", "192.0.2.11", "192.0.2.4,192.0.2.5, 198.51.100.1", "192.0.2.4", SourceXFF},
		{"EmptyXFFEntry", "192.0.2.11", "192.0.2.4,, 198.51.100.1", "192.0.2.11", SourceConnection},
		{"XFFHasTooManyEntries", "192.0.2.11", "10.1.1.1, 10.2.2.2, 10.3.3.3, 10.4.4.4, 10.5.5.5, 10.6.6.6, 10.7.7.7,10.8.8.8," +
			"10.9.9.9, 10.10.10.10, 10.11.11.11, 10.12.12.12, 10.13.13.13, 10.14.14.14, 10.15.15.15, " +
			"10.16.16.16, 10.17.17.17, 10.18.18.18, 10.19.19.19, 10.20.20.20, 10.21.21.21", "192.0.2.11", SourceConnection},
		{"trusted peer without XFF", "192.0.2.11", "", "192.0.2.11", SourceConnection},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.xff != "" {
				h.Set("X-Forwarded-For", tc.xff)
			}
			d := Decide(&Conn{Peer: netip.AddrPortFrom(netip.MustParseAddr(tc.peer), 1), Settings: s}, h, nil)
			if d.Client.String() != tc.want || d.Source != tc.source {
				t.Errorf("client = %s (%s), want %s (%s); note %q", d.Client, d.Source, tc.want, tc.source, d.Note)
			}
		})
	}
	if err := (&Settings{NumTrustedProxies: 1, TrustedCIDRs: s.TrustedCIDRs}).Validate(); err == nil {
		t.Error("hop count and trusted CIDRs together validate; Envoy refuses them")
	}
}

// TestProxyProtocolPeer: with a PROXY header accepted, its source is the
// downstream address Envoy appends to X-Forwarded-For and uses as the
// client when nothing is trusted; with hops configured, XFF trust wins
// (Istio: "if XFF and numTrustedProxies are also present, XFF wins").
func TestProxyProtocolPeer(t *testing.T) {
	c := &Conn{
		Peer:          netip.MustParseAddrPort("198.51.100.7:5555"),
		Socket:        netip.MustParseAddrPort("10.0.0.2:40000"),
		ProxyProtocol: true,
		Settings:      &Settings{},
	}
	h := http.Header{"X-Forwarded-For": {"203.0.113.9"}}
	d := Decide(c, h, nil)
	if d.Client.String() != "198.51.100.7" || d.Source != SourceProxyProtocol || d.XFF != "203.0.113.9, 198.51.100.7" {
		t.Errorf("got client %s (%s), XFF %q", d.Client, d.Source, d.XFF)
	}
	if got, want := d.Describe(), "proxy-protocol; address=198.51.100.7; peer=198.51.100.7; load-balancer=10.0.0.2"; got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
	c.Settings = &Settings{NumTrustedProxies: 1}
	d = Decide(c, h, nil)
	if d.Client.String() != "203.0.113.9" || d.Source != SourceXFF {
		t.Errorf("with 1 trusted hop: client %s (%s), want 203.0.113.9 from XFF", d.Client, d.Source)
	}
}

// TestInternalRequests: "If use_remote_address is set to true, the request
// is internal if and only if the request contains no XFF and the immediate
// downstream node's connection to Envoy has an internal ... source
// address." Internal addresses are configured (Envoy ≥ 1.33 has none by
// default, and neither does Istio).
func TestInternalRequests(t *testing.T) {
	internal := &Settings{InternalCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	for _, tc := range []struct {
		name     string
		s        *Settings
		peer     string
		xff      string
		internal bool
	}{
		{"default: nothing is internal", &Settings{}, "10.1.2.3", "", false},
		{"internal peer, no XFF", internal, "10.1.2.3", "", true},
		{"internal peer with XFF", internal, "10.1.2.3", "10.9.9.9", false},
		{"external peer", internal, "192.0.2.1", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"X-Envoy-External-Address": {"1.1.1.1"}, "X-Envoy-Retry-On": {"5xx"}}
			if tc.xff != "" {
				h.Set("X-Forwarded-For", tc.xff)
			}
			c := &Conn{Peer: netip.AddrPortFrom(netip.MustParseAddr(tc.peer), 1), Settings: tc.s}
			r := (&http.Request{Header: h}).WithContext(WithConn(t.Context(), c))
			r = Prepare(r)
			got := r.Header.Get("X-Envoy-Internal") == "true"
			if got != tc.internal {
				t.Fatalf("internal = %v, want %v", got, tc.internal)
			}
			ext, retry := r.Header.Get("X-Envoy-External-Address"), r.Header.Get("X-Envoy-Retry-On")
			if tc.internal && (ext != "1.1.1.1" || retry != "5xx") {
				t.Errorf("internal request: external address %q, retry-on %q; Envoy leaves both alone", ext, retry)
			}
			if !tc.internal && (ext != tc.peer || retry != "") {
				t.Errorf("external request: external address %q (want %s), retry-on %q (want removed)", ext, tc.peer, retry)
			}
		})
	}
}

// TestApplyRestoresWhatReverseProxyRemoves: Apply copies the prepared
// forwarding headers to the outbound request, and without Prepare decides
// from RemoteAddr with the gateway defaults.
func TestApplyRestoresWhatReverseProxyRemoves(t *testing.T) {
	in := &http.Request{RemoteAddr: "192.0.2.5:1234", Header: http.Header{
		"X-Forwarded-For":  {"203.0.113.1"},
		"X-Forwarded-Host": {"example.com"},
		"Forwarded":        {"for=203.0.113.1"},
	}}
	for _, prepared := range []bool{false, true} {
		r := in.Clone(t.Context())
		if prepared {
			r = Prepare(r)
		}
		out := http.Header{}
		Apply(r, out)
		want := map[string]string{
			"X-Forwarded-For":          "203.0.113.1, 192.0.2.5",
			"X-Forwarded-Proto":        "http",
			"X-Forwarded-Host":         "example.com",
			"Forwarded":                "for=203.0.113.1",
			"X-Envoy-External-Address": "192.0.2.5",
		}
		if prepared {
			// Prepare wrote x-envoy-external-address into the incoming
			// header, which ReverseProxy copies; Apply leaves it be.
			delete(want, "X-Envoy-External-Address")
		}
		for k, v := range want {
			if got := out.Get(k); got != v {
				t.Errorf("prepared=%v: %s = %q, want %q", prepared, k, got, v)
			}
		}
	}
}
