package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/meshgate/meshgate/internal/echo"
)

func echoCmd(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("echo", flag.ContinueOnError)
	name := fs.String("name", "echo", "name returned in the X-Echo-Name header")
	listen := fs.String("listen", "127.0.0.1:9101", "listen address")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	srv, err := echo.Start(*name, *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshgate echo:", err)
		return 1
	}
	fmt.Printf("echo backend %q listening on %s\n", *name, srv.Addr())
	<-ctx.Done()
	_ = srv.Close()
	return 0
}
