package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"time"

	"github.com/meshgate/meshgate/examples/echo"
	"github.com/meshgate/meshgate/internal/app"
	"github.com/meshgate/meshgate/internal/dataplane"
	"github.com/meshgate/meshgate/internal/diag"
	echobackend "github.com/meshgate/meshgate/internal/echo"
	"github.com/meshgate/meshgate/internal/resource"
)

// demoCmd serves examples/echo with its four backends in-process, shows
// the canary split, and keeps serving until interrupted.
func demoCmd(ctx context.Context, args []string) int {
	fset := flag.NewFlagSet("demo", flag.ContinueOnError)
	requests := fset.Int("requests", 1000, "requests to send before printing the split")
	exit := fset.Bool("exit", false, "exit after printing the split instead of serving on")
	adminAddr := fset.String("admin", "127.0.0.1:15000", "admin API address")
	if err := fset.Parse(args); err != nil {
		return 2
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	bundle, err := demoBundle()
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshgate demo:", err)
		return 1
	}
	for _, b := range echo.Backends {
		srv, err := echobackend.Start(b.Name, b.Addr)
		if err != nil {
			fmt.Fprintf(os.Stderr, "meshgate demo: backend %s: %v\n", b.Name, err)
			return 1
		}
		defer srv.Close()
	}
	id, err := (&identityFlags{labels: "istio=ingressgateway", namespace: "istio-system"}).identity()
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshgate demo:", err)
		return 1
	}
	gw, err := app.Start(ctx, app.Options{Bundle: bundle, Identity: id, AdminAddr: *adminAddr, Logger: logger})
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshgate demo:", err)
		return 1
	}
	defer func() { gw.Shutdown(); gw.Wait() }()
	readyCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := gw.WaitReady(readyCtx); err != nil {
		fmt.Fprintln(os.Stderr, "meshgate demo:", err, gw.Status().PublishError)
		return 1
	}
	snap := gw.Snapshot()
	if len(snap.Listeners) == 0 {
		fmt.Fprintln(os.Stderr, "meshgate demo: the example configuration has no listener")
		return 1
	}
	url := "http://" + localAddr(dataplane.SocketAddress(snap.Listeners[0])) + "/"
	fmt.Printf("meshgate demo: gateway listening on %s (admin http://%s)\n", url, gw.AdminAddr())
	fmt.Printf("configuration: examples/echo (Gateway, VirtualService 20/80, DestinationRule host \"*\")\n")

	counts, failures := sendRequests(ctx, url, *requests)
	printSplit(counts, failures, *requests)
	if *exit {
		if failures > 0 {
			return 1
		}
		return 0
	}
	fmt.Printf("\nserving on %s; try: curl -i %s   (Ctrl-C to stop)\n", url, url)
	<-ctx.Done()
	return 0
}

func demoBundle() (*resource.Bundle, error) {
	bundle := &resource.Bundle{}
	var diags diag.List
	err := fs.WalkDir(echo.Files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := echo.Files.ReadFile(path)
		if err != nil {
			return err
		}
		diags = append(diags, resource.DecodeFile("examples/echo/"+path, data, bundle)...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if diags.HasErrors() {
		return nil, diags
	}
	bundle.Sort()
	return bundle, nil
}

// localAddr turns a listen address into one a client can dial.
func localAddr(listen string) string {
	if len(listen) > 0 && listen[0] == ':' {
		return "127.0.0.1" + listen
	}
	return listen
}

func sendRequests(ctx context.Context, url string, n int) (map[string]int, int) {
	client := &http.Client{Timeout: 5 * time.Second}
	counts := map[string]int{}
	failures := 0
	for range n {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err != nil {
			failures++
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			failures++
			continue
		}
		counts[resp.Header.Get(echobackend.NameHeader)]++
	}
	return counts, failures
}

func printSplit(counts map[string]int, failures, total int) {
	byVersion := map[string]int{}
	for _, b := range echo.Backends {
		byVersion[b.Version] += counts[b.Name]
	}
	fmt.Printf("\n%d requests: ", total)
	versions := make([]string, 0, len(byVersion))
	for v := range byVersion {
		versions = append(versions, v)
	}
	sort.Strings(versions)
	for i, v := range versions {
		if i > 0 {
			fmt.Print(", ")
		}
		fmt.Printf("%s %.1f%%", v, 100*float64(byVersion[v])/float64(total))
	}
	fmt.Printf(" (configured 20/80), %d failed\n", failures)
	for _, b := range echo.Backends {
		fmt.Printf("  %-5s %-3s %-16s %5d\n", b.Name, b.Version, b.Addr, counts[b.Name])
	}
}
