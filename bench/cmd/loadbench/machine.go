package main

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"

	"github.com/meshgate/meshgate/bench/report"
)

// tools maps each program the benchmark runs to its Debian package.
var tools = []struct{ bin, pkg string }{
	{"nginx", "nginx-light"},
	{"haproxy", "haproxy"},
	{"caddy", "caddy"},
	{"wrk", "wrk"},
	{"h2load", "nghttp2-client"},
}

// ensureTools installs the missing programs with apt-get.
func ensureTools(ctx context.Context, install bool) error {
	var missing []string
	for _, t := range tools {
		if _, err := exec.LookPath(t.bin); err != nil {
			missing = append(missing, t.pkg)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	cmdline := "apt-get install -y " + strings.Join(missing, " ")
	if !install {
		return fmt.Errorf("missing packages; install them with: %s", cmdline)
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return fmt.Errorf("missing packages %v and no apt-get to install them", missing)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("missing packages; as root run: apt-get update && %s", cmdline)
	}
	log.Printf("installing %s", strings.Join(missing, " "))
	for _, args := range [][]string{{"update", "-qq"}, append([]string{"install", "-y", "-qq"}, missing...)} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

func machine() report.Machine {
	m := report.Machine{CPUs: runtime.NumCPU(), CPUModel: "unknown CPU", Kernel: "unknown"}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

var versionPattern = regexp.MustCompile(`v?\d+\.\d+(\.\d+)?[^\s,]*`)

// versions asks each program for its version.
func versions(ctx context.Context, meshgate string) [][2]string {
	out := [][2]string{}
	ask := func(name string, argv ...string) {
		b, _ := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput() // wrk -v exits 1
		v := versionPattern.FindString(string(b))
		if v == "" {
			v = "unknown"
		}
		out = append(out, [2]string{name, v})
	}
	ask("HAProxy", "haproxy", "-v")
	ask("nginx", "nginx", "-v")
	ask("Caddy", "caddy", "version")
	ask("wrk", "wrk", "-v")
	ask("h2load", "h2load", "--version")
	commit := "unknown"
	if b, err := exec.CommandContext(ctx, "git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		commit = strings.TrimSpace(string(b))
		if b, err := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(b) > 0 {
			commit += "+changes"
		}
	}
	if meshgate != "" {
		out = append(out, [2]string{"meshgate", "commit " + commit})
	}
	out = append(out, [2]string{"Go", runtime.Version()})
	return out
}
