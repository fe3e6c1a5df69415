// Command scalegen writes a large configuration as Istio YAML, to run
// meshgate validate, serve or explain at scale:
//
//	go run ./bench/cmd/scalegen -out /tmp/large        # 10,000 VirtualServices, 1,000 hosts, 100,000 WorkloadEntries
//	go run ./bench/cmd/scalegen -out /tmp/small -vs 100 -hosts 10 -endpoints 1000 -inline
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/meshgate/meshgate/internal/translate/testgen"
)

func main() {
	spec := testgen.Large
	out := flag.String("out", "", "directory to write config.yaml into (created if missing)")
	flag.IntVar(&spec.VirtualServices, "vs", spec.VirtualServices, "number of VirtualServices")
	flag.IntVar(&spec.Hosts, "hosts", spec.Hosts, "number of gateway hosts the VirtualServices spread over")
	flag.IntVar(&spec.Services, "services", 0, "number of backend services (default: one per host)")
	flag.IntVar(&spec.Endpoints, "endpoints", spec.Endpoints, "total number of endpoints")
	inline := flag.Bool("inline", false, "write endpoints inline in the ServiceEntries instead of as WorkloadEntries")
	flag.Parse()
	spec.WorkloadEntries = !*inline
	if *out == "" {
		fmt.Fprintln(os.Stderr, "scalegen: -out DIR is required")
		os.Exit(2)
	}
	if spec.VirtualServices < 0 || spec.Hosts < 1 || spec.Endpoints < 0 || spec.Services < 0 {
		fmt.Fprintln(os.Stderr, "scalegen: -vs, -endpoints and -services must be ≥ 0 and -hosts ≥ 1")
		os.Exit(2)
	}
	if err := write(*out, spec); err != nil {
		fmt.Fprintln(os.Stderr, "scalegen:", err)
		os.Exit(1)
	}
}

func write(dir string, spec testgen.Spec) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "config.yaml"))
	if err != nil {
		return err
	}
	if err := testgen.WriteYAML(f, spec); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
