package kube_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestReplicas runs two gateway processes, as two replicas of a
// Deployment, each in a network namespace of its own (so both listen on
// the Gateway's port 80), against one API server, and checks they serve
// the same Snapshot, before and after a change: the /config_dump hashes
// match.
func TestReplicas(t *testing.T) {
	e := newEnv(t)
	bin := buildMeshgate(t)

	e.gateway("gw", 80)
	e.splitRoute("echo", "gw", "echo", map[string]int32{"v1": 20, "v2": 80})
	e.subsets("echo")
	e.service("echo", map[string]string{"app": "echo"}, nil)
	version := func(v string) map[string]string { return map[string]string{"app": "echo", "version": v} }
	v1, v2 := e.backend("v1", version("v1"), ""), e.backend("v2", version("v2"), "")
	e.slice("echo-1", "echo", ready(v1, v2))

	replicas := []*replica{e.startReplica(bin), e.startReplica(bin)}
	converged := func(what string, want func(dump map[string]any) bool) {
		t.Helper()
		var hashes [2]string
		took := waitFor(t, 10*time.Second, "both replicas to serve "+what, func() bool {
			for i, r := range replicas {
				dump, err := r.configDump()
				if err != nil || !want(dump) {
					return false
				}
				hashes[i] = hashDump(dump)
			}
			return hashes[0] == hashes[1]
		})
		t.Logf("%s: both replicas serve config %s (converged in %v)", what, hashes[0][:12], took.Round(time.Millisecond))
	}
	converged("the canary", func(map[string]any) bool { return true })

	for _, r := range replicas {
		var c tally
		for range 200 {
			name, code, err := r.get()
			if err != nil || code != 200 {
				c.add("", fmt.Sprint(code, err))
				continue
			}
			c.add(name, "")
		}
		if v := c.share("v1"); len(c.failures) > 0 || v < 0.12 || v > 0.28 {
			t.Errorf("replica %s: v1 share %.0f%%, failures %v", r.addr, 100*v, c.failures)
		}
	}

	v3 := e.backend("v1-b", version("v1"), "")
	e.setSlice("echo-1", "echo", ready(v1, v2, v3))
	converged("the scaled slice", func(dump map[string]any) bool {
		b, _ := json.Marshal(dump)
		return bytes.Contains(b, []byte(addr(v3)))
	})
}

// replica is a gateway process in a network namespace of its own,
// reached at addr through a veth pair.
type replica struct {
	cmd  *exec.Cmd
	addr string
	logs *lockedBuffer
}

var replicaNet atomic.Uint32

// startReplica starts `meshgate serve --kubeconfig` in a new network
// namespace wired to the test's by a veth pair: 10.245.N.1 on the test's
// side, 10.245.N.2 on the replica's, whose default route leads back, so
// it reaches the API server and the backends' pod addresses.
func (e *env) startReplica(bin string) *replica {
	t := e.t
	t.Helper()
	n := replicaNet.Add(1)
	hostIP, podIP := fmt.Sprintf("10.245.%d.1", n), fmt.Sprintf("10.245.%d.2", n)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := e.cp.API.WithServer(kubeconfig, "https://"+hostIP+":"+portOf(e.cp.API.Host)); err != nil {
		t.Fatal(err)
	}
	// The child waits on stdin until its end of the veth pair exists,
	// then configures it and becomes the gateway.
	script := `read -r ready && ip link set lo up && ip addr add "$POD_IP/30" dev eth0 && ip link set eth0 up &&
		ip route add default via "$HOST_IP" && exec "$0" "$@"`
	cmd := exec.Command("sh", "-c", script, bin, "serve",
		"--kubeconfig", kubeconfig, "--cluster-id", "test",
		"--namespace", e.ns, "--watch-namespace", e.ns,
		"--admin", ":15000", "--status", ":15021", "--access-log", "off")
	cmd.Env = append(os.Environ(), "POD_IP="+podIP, "HOST_IP="+hostIP)
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &replica{cmd: cmd, addr: podIP, logs: logs}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("replica %s log:\n%s", podIP, logs.String())
		}
	})
	host := fmt.Sprintf("mgr%d", n)
	for _, args := range [][]string{
		{"link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", strconv.Itoa(cmd.Process.Pid)},
		{"addr", "add", hostIP + "/30", "dev", host},
		{"link", "set", host, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, testTimeout, "replica "+podIP+" to be ready", func() bool {
		resp, err := client.Get("http://" + podIP + ":15021/healthz/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return r
}

// get sends one request through the replica.
func (r *replica) get() (string, int, error) {
	resp, err := client.Get("http://" + r.addr + "/")
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Header.Get("X-Echo-Name"), resp.StatusCode, nil
}

func (r *replica) configDump() (map[string]any, error) {
	resp, err := client.Get("http://" + r.addr + ":15000/config_dump")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("config_dump: %s", resp.Status)
	}
	var dump map[string]any
	return dump, json.NewDecoder(resp.Body).Decode(&dump)
}

// hashDump hashes a config dump without its version, which counts the
// snapshots a replica has published and so differs between replicas that
// saw a different number of intermediate states.
func hashDump(dump map[string]any) string {
	delete(dump, "version")
	b, _ := json.Marshal(dump) // map keys are sorted
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func portOf(host string) string {
	u, err := url.Parse(host)
	if err != nil {
		panic(err)
	}
	return u.Port()
}

// buildMeshgate builds the meshgate command.
func buildMeshgate(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "meshgate")
	began := time.Now()
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/meshgate/meshgate/cmd/meshgate").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v: %s", err, out)
	}
	t.Logf("built meshgate in %v", time.Since(began).Round(100*time.Millisecond))
	return bin
}
