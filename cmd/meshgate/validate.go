package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/meshconfig"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/translate"
	"github.com/meshgate/meshgate/internal/validate"
)

func validateCmd(args []string) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	var id identityFlags
	id.register(fs)
	mesh := fs.String("mesh", "", "Istio MeshConfig file; its default*ExportTo settings decide visibility as for serve --mesh")
	quiet := fs.Bool("q", false, "print errors only, not warnings")
	output := fs.String("output", "text", "output format: text or json")
	fs.StringVar(output, "o", "text", "shorthand for --output")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "meshgate validate: give at least one file or directory")
		return 2
	}
	if *output != "text" && *output != "json" {
		fmt.Fprintf(os.Stderr, "meshgate validate: --output %q: want text or json\n", *output)
		return 2
	}
	identity, err := id.identity()
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshgate validate:", err)
		return 2
	}
	if *mesh != "" {
		mc, err := meshconfig.LoadMesh(*mesh)
		if err != nil {
			fmt.Fprintln(os.Stderr, "meshgate validate: --mesh:", err)
			return 2
		}
		applyMeshIdentity(mc, &identity)
	}
	diags := validatePaths(fs.Args(), identity)
	if *quiet {
		diags = diags.Errors()
	}
	if *output == "json" {
		if err := writeDiagnosticsJSON(os.Stdout, diags); err != nil {
			fmt.Fprintln(os.Stderr, "meshgate validate:", err)
			return 2
		}
	} else {
		for _, d := range diags {
			fmt.Println(formatDiagnostic(d))
		}
	}
	if diags.HasErrors() {
		return 1
	}
	return 0
}

// formatDiagnostic renders "file:line: Kind ns/name: field: message
// (hint: ...) [CODE]"; the code comes last so that the line reads as a
// sentence and tools can still pick the code out.
func formatDiagnostic(d diag.Diagnostic) string {
	if d.Code == "" {
		return d.String()
	}
	return d.String() + " [" + d.Code + "]"
}

// validateReport is the --output json document.
type validateReport struct {
	Errors      int       `json:"errors"`
	Warnings    int       `json:"warnings"`
	Diagnostics diag.List `json:"diagnostics"`
}

func writeDiagnosticsJSON(w io.Writer, diags diag.List) error {
	rep := validateReport{Diagnostics: diags}
	if rep.Diagnostics == nil {
		rep.Diagnostics = diag.List{}
	}
	for _, d := range diags {
		if d.Severity == diag.Error {
			rep.Errors++
		} else {
			rep.Warnings++
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// validatePaths reads the paths and checks them at three levels: decoding
// (schema), Istio's webhook rules per object, and, when everything
// decodes, the gateway's own compilation and the cross-object analysis.
// Analysis needs the whole configuration: with objects missing because
// they did not decode, it would report references to them as dangling.
func validatePaths(paths []string, id translate.Identity) diag.List {
	bundle, diags := resource.LoadPaths(paths...)
	if diags.HasErrors() {
		diags = append(diags, validate.Dedupe(validate.Check(bundle), diags)...)
	} else {
		_, tdiags := translate.Build(bundle, id)
		diags = append(diags, tdiags...)
		diags = append(diags, validate.Run(bundle, id, diags)...)
	}
	diags.Sort()
	return diags
}
