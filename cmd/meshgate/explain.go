package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/meshgate/meshgate/internal/dataplane"
	"github.com/meshgate/meshgate/internal/explain"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
	"github.com/meshgate/meshgate/internal/translate"
)

const explainUsage = `Usage: meshgate explain (--config PATH... | --admin ADDR) [flags] URL

Explain what the gateway does with a request: the listener, virtual host,
VirtualService and route (and why earlier routes did not match), the
weighted split, each cluster's priority table and which endpoint would be
picked, or why the answer is 404 or 503.

With --config, the configuration is compiled as 'meshgate serve' would,
for the gateway described by the identity flags (--locality shapes the
priority table). With --admin, the running gateway's configuration and
live cluster state (health, ejections) are fetched from its admin API.

Examples:
  meshgate explain --config ./istio http://shop.example.com/products
  meshgate explain --config ./istio --locality us-east/zone1 -H 'end-user: jason' http://shop.example.com/
  meshgate explain --admin 127.0.0.1:15000 -X POST https://api.example.com/v1/orders

Flags:
`

func explainCmd(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), explainUsage)
		fs.PrintDefaults()
	}
	var (
		configs multiFlag
		headers multiFlag
		id      identityFlags
	)
	fs.Var(&configs, "config", "configuration directory or file (repeatable)")
	admin := fs.String("admin", "", "admin address of a running gateway (host:port) to explain against instead of --config")
	method := fs.String("method", "GET", "request method")
	fs.StringVar(method, "X", "GET", "shorthand for --method")
	fs.Var(&headers, "H", `request header "Name: value" (repeatable; "Host: x" overrides the URL's host)`)
	client := fs.String("client-address", "127.0.0.1", "the client's IP address (source-IP hashing)")
	port := fs.Uint("port", 0, "gateway port the request arrives on (default: the URL's port, else 80 or 443)")
	output := fs.String("output", "text", "output format: text or json")
	fs.StringVar(output, "o", "text", "shorthand for --output")
	id.register(fs)
	positional, ok := parseInterspersed(fs, args)
	if !ok {
		return 2
	}
	if len(positional) != 1 {
		fmt.Fprintln(os.Stderr, "meshgate explain: give exactly one URL")
		fs.Usage()
		return 2
	}
	if (len(configs) == 0) == (*admin == "") {
		fmt.Fprintln(os.Stderr, "meshgate explain: give --config or --admin (one of them)")
		return 2
	}
	if *output != "text" && *output != "json" {
		fmt.Fprintf(os.Stderr, "meshgate explain: --output %q: want text or json\n", *output)
		return 2
	}
	url := positional[0]
	req, err := explain.NewRequest(strings.ToUpper(*method), url, headers, *client)
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshgate explain:", err)
		return 2
	}
	in := explain.Input{Request: req, Port: uint32(*port)}
	if in.Port == 0 {
		in.Port = explain.RequestPort(req.URL.Host, req.TLS != nil)
	}

	var snap *snapshot.Snapshot
	if *admin != "" {
		snap, in.Live, err = fetchLive(ctx, *admin)
		if err != nil {
			fmt.Fprintln(os.Stderr, "meshgate explain:", err)
			return 1
		}
	} else {
		identity, err := id.identity()
		if err != nil {
			fmt.Fprintln(os.Stderr, "meshgate explain:", err)
			return 2
		}
		b, diags := resource.LoadPaths(configs...)
		if diags.HasErrors() {
			for _, d := range diags.Errors() {
				fmt.Fprintln(os.Stderr, formatDiagnostic(d))
			}
			fmt.Fprintln(os.Stderr, "meshgate explain: the configuration does not load")
			return 1
		}
		snap, _ = translate.Build(b, identity)
	}

	res := explain.Explain(snap, in)
	if *output == "json" {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(explain.ViewOf(res))
	} else {
		err = explain.Write(os.Stdout, req.Method+" "+url, res)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshgate explain:", err)
		return 1
	}
	return 0
}

// fetchLive reads a running gateway's configuration (/config_dump) and
// cluster state (/clusters) from its admin API.
func fetchLive(ctx context.Context, addr string) (*snapshot.Snapshot, []dataplane.ClusterStatus, error) {
	base := addr
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	base = strings.TrimRight(base, "/")
	client := &http.Client{Timeout: 10 * time.Second}
	var snap snapshot.Snapshot
	if err := getJSON(ctx, client, base+"/config_dump", &snap); err != nil {
		return nil, nil, err
	}
	snap.Seal()
	var clusters []dataplane.ClusterStatus
	if err := getJSON(ctx, client, base+"/clusters", &clusters); err != nil {
		return nil, nil, err
	}
	return &snap, clusters, nil
}

func getJSON(ctx context.Context, c *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("admin API %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("admin API %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("admin API %s: %w", url, err)
	}
	return nil
}

// parseInterspersed parses flags before and after positional arguments,
// so "explain URL -H 'a: b'" reads like curl.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, bool) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, false
		}
		if fs.NArg() == 0 {
			return positional, true
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
