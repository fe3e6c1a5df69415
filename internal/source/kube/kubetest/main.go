// Package kubetest runs a real Kubernetes control plane for tests: etcd
// (Debian's etcd-server) and a kube-apiserver built from the Go module
// proxy by hack/kube-control-plane.sh, with the Istio and Gateway API CRDs
// applied. There is no controller manager, scheduler or kubelet: tests
// write Services, EndpointSlices, Pods and Nodes themselves, which is
// exactly what a gateway reads.
//
// The API server refuses loopback addresses in EndpointSlices, so the
// test binary re-executes itself in a private network namespace (Main)
// where 10.244.0.0/16 is local: backends listen on "pod" addresses from
// that range (PodIP), and every address and all traffic stay inside the
// namespace. Creating one needs root (CAP_SYS_ADMIN); without it the tests
// that need the control plane skip, saying why.
//
// It lives under internal/source/kube because it imports client-go, which
// the rest of the module keeps out of everything but the Kubernetes
// source.
package kubetest

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

// Environment variables.
const (
	// EnvAPIServer names a kube-apiserver binary to use instead of the one
	// hack/kube-control-plane.sh caches.
	EnvAPIServer = "MESHGATE_KUBE_APISERVER"
	// envInNetns marks the re-executed test binary.
	envInNetns = "MESHGATE_KUBETEST_NETNS"
)

// KubeVersion is the kube-apiserver version hack/kube-control-plane.sh
// builds; the cached binary's path includes it.
const KubeVersion = "v1.36.3"

// PodCIDR is the range made local inside the test network namespace.
// Addresses from it are accepted in EndpointSlices, unlike loopback ones.
var PodCIDR = netip.MustParsePrefix("10.244.0.0/16")

// advertiseAddress is what the API server advertises (there is no default
// route to pick one from); it is local like every address of PodCIDR.
const advertiseAddress = "10.244.255.254"

var (
	// unavailable, when set, says why no control plane can run here.
	unavailable string
	shared      struct {
		once sync.Once
		cp   *ControlPlane
		err  error
	}
	nextIP atomic.Uint32
)

// Main runs a package's tests inside a private network namespace, then
// stops the shared control plane if a test started it. Call it from
// TestMain:
//
//	func TestMain(m *testing.M) { kubetest.Main(m) }
func Main(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		unavailable = "the Kubernetes control plane is not started in -short mode"
		os.Exit(m.Run())
	}
	if os.Getenv(envInNetns) == "" {
		code, err := reexecInNetns()
		if err == nil {
			os.Exit(code)
		}
		unavailable = "cannot create a private network namespace for the control plane (needs root): " + err.Error()
		os.Exit(m.Run())
	}
	if err := setupNetns(); err != nil {
		unavailable = "cannot set up the test network namespace: " + err.Error()
		os.Exit(m.Run())
	}
	code := m.Run()
	if shared.cp != nil {
		shared.cp.Stop()
	}
	os.Exit(code)
}

// Shared returns the package's control plane, starting it on first use,
// and skips the test when none can run here. A control plane that should
// run but fails to start fails the test; so does a missing binary under
// CI, where hack/kube-control-plane.sh has run first.
func Shared(t testing.TB) *ControlPlane {
	t.Helper()
	if unavailable != "" {
		t.Skip(unavailable)
	}
	shared.once.Do(func() {
		var bins binaries
		if bins, shared.err = findBinaries(); shared.err == nil {
			shared.cp, shared.err = start(bins)
		}
	})
	if shared.err != nil {
		var missing *missingBinaryError
		if errors.As(shared.err, &missing) && os.Getenv("CI") == "" {
			t.Skip(shared.err)
		}
		t.Fatal(shared.err)
	}
	return shared.cp
}

// PodIP returns an address no other caller in this process got, from
// PodCIDR, for a backend to listen on and an EndpointSlice to list.
func PodIP() netip.Addr {
	n := nextIP.Add(1)
	b := PodCIDR.Addr().As4()
	// .2 to .251 of each /24 below 10.244.255.0, which keeps clear of
	// network and broadcast-looking addresses and of advertiseAddress.
	b[2], b[3] = byte(n/250%255), byte(n%250+2)
	return netip.AddrFrom4(b)
}

// reexecInNetns runs this test binary again, with the same arguments, in
// a new network namespace, and returns its exit code. Termination signals
// are passed on, so a test timeout still dumps the goroutines that matter.
func reexecInNetns() (int, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Env = append(os.Environ(), envInNetns+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return exit.ExitCode(), nil
	}
	if err != nil {
		return 0, err
	}
	return 0, nil
}

// setupNetns brings the namespace's loopback up and makes all of PodCIDR
// local to it, so a backend can listen on any address of the range.
func setupNetns() error {
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"route", "add", "local", PodCIDR.String(), "dev", "lo"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %v: %v: %s", args, err, out)
		}
	}
	return nil
}

// binaries are the programs a control plane runs.
type binaries struct {
	etcd, apiserver string
}

type missingBinaryError struct{ what, hint string }

func (e *missingBinaryError) Error() string {
	return fmt.Sprintf("%s not found; %s (make test does it)", e.what, e.hint)
}

// findBinaries locates etcd on PATH and the kube-apiserver in
// $MESHGATE_KUBE_APISERVER or hack/kube-control-plane.sh's cache.
func findBinaries() (binaries, error) {
	var b binaries
	var err error
	if b.etcd, err = exec.LookPath("etcd"); err != nil {
		return b, &missingBinaryError{"etcd", "install Debian's etcd-server or run hack/kube-control-plane.sh"}
	}
	b.apiserver = os.Getenv(EnvAPIServer)
	if b.apiserver == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return b, err
		}
		b.apiserver = filepath.Join(cache, "meshgate", "kube-apiserver-"+KubeVersion, "kube-apiserver")
	}
	if _, err := os.Stat(b.apiserver); err != nil {
		return b, &missingBinaryError{"kube-apiserver at " + b.apiserver, "build it with hack/kube-control-plane.sh"}
	}
	return b, nil
}
