// Package echo embeds the echo example configuration so `meshgate demo`
// serves exactly the files a user can read and copy.
package echo

import "embed"

// Files holds the example's YAML files.
//
//go:embed *.yaml
var Files embed.FS

// Backends names the example's backends and the addresses its
// WorkloadEntries point at.
var Backends = []struct{ Name, Version, Addr string }{
	{"v1-a", "v1", "127.0.0.1:9101"},
	{"v1-b", "v1", "127.0.0.1:9102"},
	{"v2-a", "v2", "127.0.0.1:9103"},
	{"v2-b", "v2", "127.0.0.1:9104"},
}
