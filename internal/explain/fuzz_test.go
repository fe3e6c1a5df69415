package explain

import (
	"strings"
	"testing"
)

func TestParseHeader(t *testing.T) {
	tests := []struct {
		in, name, value string
		ok              bool
	}{
		{"end-user: jason", "end-user", "jason", true},
		{"X-Empty:", "X-Empty", "", true},
		{"Host: a.example.com:8080", "Host", "a.example.com:8080", true},
		{"  spaced  :  v  ", "spaced", "v", true},
		{"no-colon", "", "", false},
		{": value", "", "", false},
		{"bad name: v", "", "", false},
		{"x: a\r\nInjected: 1", "", "", false},
	}
	for _, tc := range tests {
		name, value, err := ParseHeader(tc.in)
		if (err == nil) != tc.ok || name != tc.name || value != tc.value {
			t.Errorf("ParseHeader(%q) = %q, %q, %v; want %q, %q, ok=%v", tc.in, name, value, err, tc.name, tc.value, tc.ok)
		}
	}
}

// FuzzParseHeader checks that whatever ParseHeader accepts is a header
// net/http would send as is: a token name and a value without line breaks.
func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{"a: b", "x-user:", "Host: h:80", ":", "a:b:c", "\x00: x", "ü: v"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, value, err := ParseHeader(s)
		if err != nil {
			return
		}
		if name == "" || !isToken(name) || strings.ContainsAny(value, "\r\n\x00") || value != strings.TrimSpace(value) {
			t.Fatalf("ParseHeader(%q) accepted %q: %q", s, name, value)
		}
		if _, err := NewRequest("GET", "http://example.com/", []string{s}, ""); err != nil {
			t.Fatalf("NewRequest rejects a header ParseHeader accepts: %v", err)
		}
	})
}
