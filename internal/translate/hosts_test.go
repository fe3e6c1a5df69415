package translate

import "testing"

func TestIntersectHosts(t *testing.T) {
	tests := []struct {
		server, vs string
		want       string // "" means no intersection
	}{
		// The examples Istio documents for gateway virtual host domains.
		{"*.foo.com", "a.foo.com", "a.foo.com"},
		{"a.foo.com", "*.foo.com", "a.foo.com"},
		{"*", "a.foo.com", "a.foo.com"},
		{"a.foo.com", "*", "a.foo.com"},
		{"*", "*", "*"},
		{"*", "*.foo.com", "*.foo.com"},
		{"*.foo.com", "*", "*.foo.com"},
		// Wildcards cover any number of labels, but not the bare domain.
		{"*.foo.com", "a.b.foo.com", "a.b.foo.com"},
		{"*.foo.com", "foo.com", ""},
		{"*.foo.com", "*.bar.foo.com", "*.bar.foo.com"},
		{"*.bar.foo.com", "*.foo.com", "*.bar.foo.com"},
		{"*.foo.com", "*.bar.com", ""},
		{"a.foo.com", "a.foo.com", "a.foo.com"},
		{"a.foo.com", "b.foo.com", ""},
		{"foo.com", "xfoo.com", ""},
	}
	for _, tt := range tests {
		got, ok := intersectHosts(tt.server, tt.vs)
		if !ok {
			got = ""
		}
		if got != tt.want {
			t.Errorf("intersectHosts(%q, %q) = %q, want %q", tt.server, tt.vs, got, tt.want)
		}
	}
}

func TestResolveShortName(t *testing.T) {
	tests := []struct{ host, want string }{
		{"echoserver-service", "echoserver-service.default.svc.cluster.local"},
		{"Reviews", "reviews.default.svc.cluster.local"},
		// Istio takes any name with a dot as written: "svc.ns" is not
		// expanded.
		{"reviews.prod", "reviews.prod"},
		{"reviews.prod.svc.cluster.local", "reviews.prod.svc.cluster.local"},
		{"*", "*"},
		{"*.example.com", "*.example.com"},
		{"10.0.0.1", "10.0.0.1"},
		{"::1", "::1"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := resolveShortName(tt.host, "default", "cluster.local"); got != tt.want {
			t.Errorf("resolveShortName(%q) = %q, want %q", tt.host, got, tt.want)
		}
	}
}

func TestResolveGatewayRef(t *testing.T) {
	tests := []struct{ ref, want string }{
		{"gw", "apps/gw"},
		{"./gw", "apps/gw"},
		{"istio-system/gw", "istio-system/gw"},
		{"mesh", "mesh"},
		// The legacy FQDN form.
		{"gw.istio-system.svc.cluster.local", "istio-system/gw"},
		{"gw.istio-system", "istio-system/gw"},
	}
	for _, tt := range tests {
		if got := resolveGatewayRef(tt.ref, "apps"); got != tt.want {
			t.Errorf("resolveGatewayRef(%q) = %q, want %q", tt.ref, got, tt.want)
		}
	}
}

func TestParseServerHost(t *testing.T) {
	tests := []struct {
		entry string
		want  serverHost
		ok    bool
	}{
		{"example.com", serverHost{"*", "example.com"}, true},
		{"*/Example.COM", serverHost{"*", "example.com"}, true},
		{"./*", serverHost{"gwns", "*"}, true},
		{"apps/*.example.com", serverHost{"apps", "*.example.com"}, true},
		{"/example.com", serverHost{}, false},
		{"apps/", serverHost{}, false},
		{"a/b/c", serverHost{}, false},
	}
	for _, tt := range tests {
		got, ok := parseServerHost(tt.entry, "gwns")
		if ok != tt.ok || got != tt.want {
			t.Errorf("parseServerHost(%q) = %+v, %v; want %+v, %v", tt.entry, got, ok, tt.want, tt.ok)
		}
	}
	if h := (serverHost{"apps", "*"}); !h.admits("apps") || h.admits("other") {
		t.Error("a namespaced server host must admit only its namespace")
	}
	if h := (serverHost{"*", "*"}); !h.admits("anything") {
		t.Error("\"*/\" admits every namespace")
	}
}
