package kubetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// startTimeout bounds how long etcd and each API server may take to
// answer; both usually do within a few seconds.
const startTimeout = 90 * time.Second

// ControlPlane is a running etcd and kube-apiserver (API), plus any
// further API servers started against the same etcd.
type ControlPlane struct {
	// API is the first API server; most tests need no other.
	API *APIServer

	bins    binaries
	dir     string
	etcdURL string
	token   string
	etcd    *process
	servers []*APIServer
}

// APIServer is one kube-apiserver of a control plane. Several share one
// etcd, like the replicas of a real control plane, so a test can stop one
// while the others keep the cluster available.
type APIServer struct {
	// Host is the server's URL, "https://127.0.0.1:<port>".
	Host string
	// Kubeconfig is a kubeconfig file for an administrator, as a gateway
	// would be given one.
	Kubeconfig string

	cp   *ControlPlane
	name string
	port int
	proc *process
	// etcdPrefix separates the data of API servers that stand for
	// different clusters; servers of one cluster share it.
	etcdPrefix string
}

// start starts etcd and one API server in a new temporary directory and
// applies the Istio and Gateway API CRDs.
func start(bins binaries) (_ *ControlPlane, err error) {
	dir, err := os.MkdirTemp("", "kubetest-")
	if err != nil {
		return nil, err
	}
	cp := &ControlPlane{bins: bins, dir: dir}
	defer func() {
		if err != nil {
			cp.Stop()
		}
	}()
	began := time.Now()
	if err := cp.writeCredentials(); err != nil {
		return nil, err
	}
	if err := cp.startEtcd(); err != nil {
		return nil, err
	}
	if cp.API, err = cp.NewAPIServer("apiserver"); err != nil {
		return nil, err
	}
	if err := applyCRDs(cp.API.Config()); err != nil {
		return nil, fmt.Errorf("applying the CRDs: %w", err)
	}
	fmt.Fprintf(os.Stderr, "kubetest: control plane (etcd, kube-apiserver %s, Istio and Gateway API CRDs) ready in %v\n",
		KubeVersion, time.Since(began).Round(100*time.Millisecond))
	return cp, nil
}

// Stop stops every process and removes the directory.
func (cp *ControlPlane) Stop() {
	for _, s := range cp.servers {
		s.proc.stop()
	}
	cp.etcd.stop()
	_ = os.RemoveAll(cp.dir)
}

// writeCredentials writes the service-account signing key, which the API
// server requires, and a token file with one administrator.
func (cp *ControlPlane) writeCredentials() error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(filepath.Join(cp.dir, "sa.key"), keyPEM, 0o600); err != nil {
		return err
	}
	tok := make([]byte, 16)
	_, _ = rand.Read(tok)
	cp.token = hex.EncodeToString(tok)
	// token,user,uid,"group": system:masters may do anything.
	line := cp.token + ",admin,admin,system:masters\n"
	return os.WriteFile(filepath.Join(cp.dir, "tokens.csv"), []byte(line), 0o600)
}

func (cp *ControlPlane) startEtcd() error {
	client, peer := freePort(), freePort()
	cp.etcdURL = "http://127.0.0.1:" + strconv.Itoa(client)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peer)
	p, err := startProcess(filepath.Join(cp.dir, "etcd.log"), cp.bins.etcd,
		"--name=kubetest",
		"--data-dir="+filepath.Join(cp.dir, "etcd"),
		"--listen-client-urls="+cp.etcdURL,
		"--advertise-client-urls="+cp.etcdURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=kubetest="+peerURL,
		// Test data need not survive a crash; skipping the fsyncs of a
		// durable cluster keeps writes fast on a loaded machine.
		"--unsafe-no-fsync",
	)
	if err != nil {
		return err
	}
	cp.etcd = p
	return waitHTTP(p, &http.Client{}, cp.etcdURL+"/health", func(body []byte) bool {
		return bytes.Contains(body, []byte(`"health":"true"`))
	})
}

// NewAPIServer starts another API server of the same cluster: against
// the control plane's etcd, with the same data. It is stopped with the
// control plane.
func (cp *ControlPlane) NewAPIServer(name string) (*APIServer, error) {
	return cp.newAPIServer(name, "/registry")
}

// NewCluster starts an API server for another cluster: it shares the
// etcd process but none of its data. Such a cluster has no Istio CRDs, as
// a remote cluster of an Istio mesh needs none.
func (cp *ControlPlane) NewCluster(name string) (*APIServer, error) {
	return cp.newAPIServer(name, "/"+name)
}

func (cp *ControlPlane) newAPIServer(name, prefix string) (*APIServer, error) {
	s := &APIServer{cp: cp, name: name, port: freePort(), etcdPrefix: prefix}
	s.Host = "https://127.0.0.1:" + strconv.Itoa(s.port)
	s.Kubeconfig = filepath.Join(cp.dir, name+".kubeconfig")
	if err := os.WriteFile(s.Kubeconfig, s.kubeconfig(), 0o600); err != nil {
		return nil, err
	}
	if err := s.Start(); err != nil {
		return nil, err
	}
	cp.servers = append(cp.servers, s)
	return s, nil
}

// Start starts the server (again, after Stop) on its port and waits
// until it is ready.
func (s *APIServer) Start() error {
	cp := s.cp
	p, err := startProcess(filepath.Join(cp.dir, s.name+".log"), cp.bins.apiserver,
		"--etcd-servers="+cp.etcdURL,
		"--etcd-prefix="+s.etcdPrefix,
		"--secure-port="+strconv.Itoa(s.port),
		// All addresses of the private namespace, so that gateway
		// processes in namespaces of their own can reach it too.
		"--bind-address=0.0.0.0",
		"--advertise-address="+advertiseAddress,
		"--cert-dir="+filepath.Join(cp.dir, s.name+"-certs"),
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+filepath.Join(cp.dir, "sa.key"),
		"--service-account-signing-key-file="+filepath.Join(cp.dir, "sa.key"),
		"--token-auth-file="+filepath.Join(cp.dir, "tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.0.0.0/24",
		// Without a controller manager no namespace gets its "default"
		// ServiceAccount, which this plugin would require of every Pod.
		"--disable-admission-plugins=ServiceAccount",
		// Nothing reconciles the "kubernetes" Service's endpoints, which
		// would otherwise change as test API servers come and go.
		"--endpoint-reconciler-type=none",
	)
	if err != nil {
		return err
	}
	s.proc = p
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer client.CloseIdleConnections()
	return waitHTTP(p, client, s.Host+"/readyz", func(body []byte) bool { return string(body) == "ok" })
}

// Stop kills the server, as a crash or a network partition would take it
// away. Clients see their connections fail.
func (s *APIServer) Stop() { s.proc.stop() }

// Config returns an administrator's client configuration. Its rate limits
// are raised well above client-go's defaults, which would throttle tests
// that write many objects.
func (s *APIServer) Config() *rest.Config {
	return &rest.Config{
		Host:            s.Host,
		BearerToken:     s.cp.token,
		TLSClientConfig: rest.TLSClientConfig{Insecure: true},
		QPS:             500,
		Burst:           1000,
		Timeout:         30 * time.Second,
		// Deprecation warnings (PreferClose) are expected in tests.
		WarningHandler: rest.NoWarnings{},
	}
}

// Client returns an administrator's clientset.
func (s *APIServer) Client() *kubernetes.Clientset {
	return kubernetes.NewForConfigOrDie(s.Config())
}

// kubeconfig renders a kubeconfig for the administrator. The serving
// certificate is self-signed, so verification is off: every address here
// is inside the test's own network namespace.
func (s *APIServer) kubeconfig() []byte {
	return fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters:
- name: %[1]s
  cluster: {server: %[2]q, insecure-skip-tls-verify: true}
users:
- name: admin
  user: {token: %[3]q}
contexts:
- name: %[1]s
  context: {cluster: %[1]s, user: admin}
current-context: %[1]s
`, s.name, s.Host, s.cp.token)
}

// WithServer returns a copy of the kubeconfig pointing at host instead,
// for a client that reaches the server through another address.
func (s *APIServer) WithServer(path, host string) error {
	data := bytes.Replace(s.kubeconfig(), []byte(strconv.Quote(s.Host)), []byte(strconv.Quote(host)), 1)
	return os.WriteFile(path, data, 0o600)
}

// process is a child process whose output goes to a log file.
type process struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

func startProcess(logPath, bin string, args ...string) (*process, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	// Die with the test binary, however it ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", filepath.Base(bin), err)
	}
	p := &process{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *process) stop() {
	if p == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// tail returns the end of the process's log, for error messages.
func (p *process) tail() string {
	data, _ := os.ReadFile(p.log)
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return string(data)
}

// waitHTTP polls url until ok accepts the body, the process exits or
// startTimeout passes.
func waitHTTP(p *process, client *http.Client, url string, ok func([]byte) bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	name := filepath.Base(p.cmd.Path)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && ok(body) {
				return nil
			}
			err = fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(body))
		}
		last = err
		select {
		case <-p.done:
			return fmt.Errorf("%s exited (%v) before it was ready; log %s:\n%s", name, p.err, p.log, p.tail())
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %v (%v); log %s:\n%s", name, startTimeout, last, p.log, p.tail())
		case <-tick.C:
		}
	}
}

// freePort returns a port nothing listens on. Inside the private network
// namespace nothing else can take it before the caller binds it.
func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(errors.Join(errors.New("kubetest: no free port"), err))
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
