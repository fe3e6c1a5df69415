package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/translate"
)

func validateCmd(args []string) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	var id identityFlags
	id.register(fs)
	quiet := fs.Bool("q", false, "print errors only, not warnings")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "meshgate validate: give at least one file or directory")
		return 2
	}
	identity, err := id.identity()
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshgate validate:", err)
		return 2
	}
	diags := validate(fs.Args(), identity)
	for _, d := range diags {
		if *quiet && d.Severity != diag.Error {
			continue
		}
		fmt.Println(d.String())
	}
	if diags.HasErrors() {
		return 1
	}
	return 0
}

// validate reads the paths and, when they decode, compiles them as the
// gateway would, returning every finding in file order.
func validate(paths []string, id translate.Identity) diag.List {
	bundle, diags := resource.LoadPaths(paths...)
	if !diags.HasErrors() {
		_, tdiags := translate.Build(bundle, id)
		diags = append(diags, tdiags...)
	}
	diags.Sort()
	return diags
}
