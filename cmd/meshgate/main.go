// Command meshgate is an ingress gateway that serves the Istio networking
// API. See `meshgate help`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `meshgate: an Istio-compatible ingress gateway

Usage:
  meshgate serve --config DIR [flags]   serve the configuration in DIR (watched)
  meshgate validate PATH...             check configuration files; exit 1 on errors
  meshgate explain --config DIR URL     explain which route, cluster and endpoint serve a request
  meshgate demo                         serve an 80/20 canary with built-in backends
  meshgate echo --name N --listen ADDR  run an echo backend (for examples)
  meshgate version                      print the version

Run 'meshgate COMMAND -h' for the flags of a command.
`

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serveCmd(ctx, rest)
	case "validate":
		return validateCmd(rest)
	case "explain":
		return explainCmd(ctx, rest)
	case "demo":
		return demoCmd(ctx, rest)
	case "echo":
		return echoCmd(ctx, rest)
	case "version":
		fmt.Println("meshgate", version)
		return 0
	case "help", "-h", "--help":
		fmt.Print(usage)
		return 0
	}
	fmt.Fprintf(os.Stderr, "meshgate: unknown command %q\n\n%s", cmd, usage)
	return 2
}
