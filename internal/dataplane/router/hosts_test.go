package router

import "testing"

func TestHostSelection(t *testing.T) {
	all := rt("all")
	tab := New(listener(
		vhostOf("exact", []string{"api.example.com"}, all),
		vhostOf("wild", []string{"*.example.com"}, all),
		vhostOf("wild-longer", []string{"*.api.example.com"}, all),
		vhostOf("ipv6", []string{"[::1]", "[2001:db8::1]"}, all),
		vhostOf("ipv4", []string{"10.0.0.1"}, all),
		vhostOf("upper", []string{"Mixed.Example.ORG"}, all),
		vhostOf("catch-all", []string{"*"}, all),
	))
	tests := []struct{ host, want string }{
		{"api.example.com", "exact"},
		{"api.example.com:443", "exact"},
		{"API.Example.COM", "exact"},
		{"API.Example.COM:8443", "exact"},
		{"api.example.com:", "exact"},
		{"x.api.example.com", "wild-longer"},
		{"a.b.api.example.com", "wild-longer"},
		{"www.example.com", "wild"},
		{"WWW.EXAMPLE.COM:80", "wild"},
		{"a.b.example.com", "wild"},
		{"example.com", "catch-all"},
		{".example.com", "catch-all"},
		{"xexample.com", "catch-all"},
		{"api.example.com.evil.org", "catch-all"},
		{"[::1]", "ipv6"},
		{"[::1]:8080", "ipv6"},
		{"[2001:DB8::1]:443", "ipv6"},
		{"[::2]:8080", "catch-all"},
		{"::1", "catch-all"},
		{"[::1]x", "catch-all"},
		{"10.0.0.1", "ipv4"},
		{"10.0.0.1:80", "ipv4"},
		{"mixed.example.org", "upper"},
		{"api.example.com:http", "catch-all"},
		{"other.org", "catch-all"},
		{"", "catch-all"},
	}
	for _, tc := range tests {
		vh, r := tab.Route(get("/").withHost(tc.host).build())
		if got := vhostName(vh); got != tc.want {
			t.Errorf("host %q: virtual host %s, want %s", tc.host, got, tc.want)
		}
		if r != all {
			t.Errorf("host %q: route %s, want all", tc.host, routeName(r))
		}
	}
}

func TestNoVirtualHost(t *testing.T) {
	tab := New(listener(
		vhostOf("a", []string{"a.example.com"}, rt("all")),
		vhostOf("wild", []string{"*.b.example.com"}, rt("all")),
	))
	for _, host := range []string{"example.com", "b.example.com", "c.example.com", ""} {
		if vh, r := tab.Route(get("/").withHost(host).build()); vh != nil || r != nil {
			t.Errorf("host %q: got %s/%s, want nil/nil", host, vhostName(vh), routeName(r))
		}
	}
}

func TestDuplicateDomainFirstWins(t *testing.T) {
	tab := New(listener(
		vhostOf("first", []string{"a.example.com", "*.example.com", "*"}, rt("1")),
		vhostOf("second", []string{"A.example.com", "*.example.com", "*"}, rt("2")),
	))
	for _, host := range []string{"a.example.com", "b.example.com", "other.org"} {
		if vh, _ := tab.Route(get("/").withHost(host).build()); vhostName(vh) != "first" {
			t.Errorf("host %q: virtual host %s, want first", host, vhostName(vh))
		}
	}
}

func TestStripPort(t *testing.T) {
	for in, want := range map[string]string{
		"example.com":      "example.com",
		"example.com:80":   "example.com",
		"example.com:":     "example.com",
		"example.com:x":    "example.com:x",
		"[::1]":            "[::1]",
		"[::1]:443":        "[::1]",
		"[::1]:":           "[::1]",
		"[::1]x":           "[::1]x",
		"[::1":             "[::1",
		"::1":              "::1",
		"fe80::1:80":       "fe80::1:80",
		"10.0.0.1:8080":    "10.0.0.1",
		"":                 "",
		":80":              "",
		"example.com:80:1": "example.com:80:1",
	} {
		if got := stripPort(in); got != want {
			t.Errorf("stripPort(%q) = %q, want %q", in, got, want)
		}
	}
}

// A Host longer than the stack buffer still works; it only costs an
// allocation.
func TestLongHost(t *testing.T) {
	long := ""
	for len(long) < 2*hostBufSize {
		long += "abcdefghi."
	}
	tab := New(listener(
		vhostOf("exact", []string{long + "example.com"}, rt("all")),
		vhostOf("wild", []string{"*.example.org"}, rt("all")),
	))
	if vh, _ := tab.Route(get("/").withHost(long + "EXAMPLE.com:80").build()); vhostName(vh) != "exact" {
		t.Errorf("long exact host: virtual host %s", vhostName(vh))
	}
	if vh, _ := tab.Route(get("/").withHost(long + "example.org").build()); vhostName(vh) != "wild" {
		t.Errorf("long wildcard host: virtual host %s", vhostName(vh))
	}
}
