package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// bodies are the response sizes the backends serve, by path.
var bodies = map[string]int{"/100": 100, "/4k": 4 << 10, "/64k": 64 << 10}

// env is what every target is configured from.
type env struct {
	dir      string
	procs    *procs
	backends []int // ports of the four backends
	threads  int   // worker processes or threads per proxy
	cert     tlsFiles
	meshgate string // binary
}

type tlsFiles struct{ cert, key, pem string }

// target is one thing the load generators are pointed at.
type target struct {
	name string
	// Addresses of its HTTP/1.1, h2c and HTTPS (HTTP/2 by ALPN)
	// listeners; empty when it has none.
	h1, h2c, tls string
	// proc is the process tree charged for CPU and memory; nil for the
	// direct backend, whose cost is not a proxy's.
	proc *proc
}

func (e *env) path(name string) string { return filepath.Join(e.dir, name) }

func (e *env) render(name, tmpl string, data any) (string, error) {
	t, err := template.New(name).Parse(tmpl)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", err
	}
	p := e.path(name)
	return p, os.WriteFile(p, []byte(b.String()), 0o644)
}

func (e *env) ports(n int) ([]int, error) {
	out := make([]int, n)
	for i := range out {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

func addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// writeCert writes a self-signed ECDSA P-256 certificate for localhost
// and 127.0.0.1, as separate PEM files and as one (HAProxy's crt).
func (e *env) writeCert() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	e.cert = tlsFiles{cert: e.path("cert.pem"), key: e.path("key.pem"), pem: e.path("combined.pem")}
	for p, b := range map[string][]byte{e.cert.cert: certPEM, e.cert.key: keyPEM, e.cert.pem: append(append([]byte{}, certPEM...), keyPEM...)} {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// The backends are one nginx serving four ports from static files: the
// cheapest HTTP/1.1 server at hand, written in C, so the backends take
// as little of the shared CPU as possible and cost every proxy the same.
const backendConf = `worker_processes {{.Workers}};
daemon off;
pid {{.Dir}}/backend.pid;
error_log {{.Dir}}/backend-error.log warn;
worker_rlimit_nofile 65536;
events { worker_connections 20000; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  open_file_cache max=16 inactive=1h;
  open_file_cache_valid 1h;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  default_type application/octet-stream;
  client_body_temp_path {{.Dir}}/tmp;
  proxy_temp_path {{.Dir}}/tmp;
  fastcgi_temp_path {{.Dir}}/tmp;
  uwsgi_temp_path {{.Dir}}/tmp;
  scgi_temp_path {{.Dir}}/tmp;
  server {
{{- range .Ports}}
    listen 127.0.0.1:{{.}} reuseport;
{{- end}}
    root {{.Dir}}/www;
  }
}
`

func (e *env) startBackends(ctx context.Context, workers int) (*target, error) {
	www := e.path("www")
	if err := os.MkdirAll(www, 0o755); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(e.path("tmp"), 0o755); err != nil {
		return nil, err
	}
	for p, n := range bodies {
		if err := os.WriteFile(filepath.Join(www, p[1:]), []byte(strings.Repeat("x", n)), 0o644); err != nil {
			return nil, err
		}
	}
	ports, err := e.ports(4)
	if err != nil {
		return nil, err
	}
	e.backends = ports
	conf, err := e.render("backend.conf", backendConf, map[string]any{"Workers": workers, "Dir": e.dir, "Ports": ports})
	if err != nil {
		return nil, err
	}
	p, err := e.procs.start("backend", nil, "nginx", "-p", e.dir, "-e", e.path("backend-error.log"), "-c", conf)
	if err != nil {
		return nil, err
	}
	for _, port := range ports {
		if err := waitHTTP(ctx, p, "http://"+addr(port)+"/100", http.DefaultClient); err != nil {
			return nil, err
		}
	}
	return &target{name: "direct", h1: addr(ports[0])}, nil
}

const haproxyConf = `global
  nbthread {{.Threads}}
  maxconn 8000
  tune.ssl.default-dh-param 2048
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 300s
  option http-keep-alive
frontend fe
  bind 127.0.0.1:{{.H1}}
  bind 127.0.0.1:{{.H2C}} proto h2
  bind 127.0.0.1:{{.TLS}} ssl crt {{.PEM}} alpn h2,http/1.1
  default_backend be
backend be
  balance roundrobin
  http-reuse always
{{- range $i, $p := .Backends}}
  server b{{$i}} 127.0.0.1:{{$p}}
{{- end}}
`

func (e *env) startHAProxy(ctx context.Context) (*target, error) {
	ps, err := e.ports(3)
	if err != nil {
		return nil, err
	}
	conf, err := e.render("haproxy.cfg", haproxyConf, map[string]any{
		"Threads": e.threads, "H1": ps[0], "H2C": ps[1], "TLS": ps[2], "PEM": e.cert.pem, "Backends": e.backends})
	if err != nil {
		return nil, err
	}
	p, err := e.procs.start("haproxy", nil, "haproxy", "-db", "-f", conf)
	if err != nil {
		return nil, err
	}
	t := &target{name: "haproxy", h1: addr(ps[0]), h2c: addr(ps[1]), tls: addr(ps[2]), proc: p}
	return t, waitHTTP(ctx, p, "http://"+t.h1+"/100", http.DefaultClient)
}

const nginxConf = `worker_processes {{.Threads}};
daemon off;
pid {{.Dir}}/nginx.pid;
error_log {{.Dir}}/nginx-error.log warn;
worker_rlimit_nofile 65536;
events { worker_connections 20000; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  client_body_temp_path {{.Dir}}/tmp;
  proxy_temp_path {{.Dir}}/tmp;
  fastcgi_temp_path {{.Dir}}/tmp;
  uwsgi_temp_path {{.Dir}}/tmp;
  scgi_temp_path {{.Dir}}/tmp;
  upstream be {
{{- range .Backends}}
    server 127.0.0.1:{{.}};
{{- end}}
    keepalive 1024;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
  }
  server {
    listen 127.0.0.1:{{.H1}};
    listen 127.0.0.1:{{.H2C}} http2;
    listen 127.0.0.1:{{.TLS}} ssl http2;
    ssl_certificate {{.Cert}};
    ssl_certificate_key {{.Key}};
    location / {
      proxy_pass http://be;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`

func (e *env) startNginx(ctx context.Context) (*target, error) {
	ps, err := e.ports(3)
	if err != nil {
		return nil, err
	}
	conf, err := e.render("nginx.conf", nginxConf, map[string]any{
		"Threads": e.threads, "Dir": e.dir, "H1": ps[0], "H2C": ps[1], "TLS": ps[2],
		"Cert": e.cert.cert, "Key": e.cert.key, "Backends": e.backends})
	if err != nil {
		return nil, err
	}
	p, err := e.procs.start("nginx", nil, "nginx", "-p", e.dir, "-e", e.path("nginx-error.log"), "-c", conf)
	if err != nil {
		return nil, err
	}
	t := &target{name: "nginx", h1: addr(ps[0]), h2c: addr(ps[1]), tls: addr(ps[2]), proc: p}
	return t, waitHTTP(ctx, p, "http://"+t.h1+"/100", http.DefaultClient)
}

const caddyfile = `{
	admin off
	auto_https off
	storage file_system {{.Dir}}/caddy-data
	servers {
		protocols h1 h2 h2c
	}
}

(proxy) {
	reverse_proxy {{range .Backends}} 127.0.0.1:{{.}}{{end}} {
		lb_policy round_robin
		transport http {
			keepalive 300s
			keepalive_idle_conns 2048
			keepalive_idle_conns_per_host 1024
		}
	}
}

http://:{{.H1}} {
	bind 127.0.0.1
	import proxy
}

https://:{{.TLS}} {
	bind 127.0.0.1
	tls {{.Cert}} {{.Key}}
	import proxy
}
`

func (e *env) startCaddy(ctx context.Context) (*target, error) {
	ps, err := e.ports(2)
	if err != nil {
		return nil, err
	}
	conf, err := e.render("Caddyfile", caddyfile, map[string]any{
		"Dir": e.dir, "H1": ps[0], "TLS": ps[1], "Cert": e.cert.cert, "Key": e.cert.key, "Backends": e.backends})
	if err != nil {
		return nil, err
	}
	p, err := e.procs.start("caddy", []string{"GOMAXPROCS=" + strconv.Itoa(e.threads), "HOME=" + e.dir, "XDG_CONFIG_HOME=" + e.dir, "XDG_DATA_HOME=" + e.dir},
		"caddy", "run", "--adapter", "caddyfile", "--config", conf)
	if err != nil {
		return nil, err
	}
	// Caddy serves h1 and h2c on one port.
	t := &target{name: "caddy", h1: addr(ps[0]), h2c: addr(ps[0]), tls: addr(ps[1]), proc: p}
	return t, waitHTTP(ctx, p, "http://"+t.h1+"/100", http.DefaultClient)
}

// meshgateConf is the same setup in Istio's API: a Gateway with an HTTP
// and an HTTPS server, a ServiceEntry with the four backends, a
// DestinationRule asking for ROUND_ROBIN and a VirtualService routing
// everything to it.
const meshgateConf = `apiVersion: v1
kind: Secret
metadata: {name: bench-cert, namespace: istio-system}
type: kubernetes.io/tls
data:
  tls.crt: {{.CertB64}}
  tls.key: {{.KeyB64}}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bench, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: {{.H1}}, name: http, protocol: HTTP}
    bind: 127.0.0.1
    hosts: ["*"]
  - port: {number: {{.TLS}}, name: https, protocol: HTTPS}
    bind: 127.0.0.1
    hosts: ["*"]
    tls: {mode: SIMPLE, credentialName: bench-cert}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: backend, namespace: default}
spec:
  hosts: [backend.bench.internal]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  location: MESH_INTERNAL
  endpoints:
{{- range .Backends}}
  - {address: 127.0.0.1, ports: {http: {{.}}}}
{{- end}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: backend, namespace: default}
spec:
  host: backend.bench.internal
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: backend, namespace: default}
spec:
  hosts: ["*"]
  gateways: [istio-system/bench]
  http:
  - route:
    - destination: {host: backend.bench.internal, port: {number: 80}}
`

func (e *env) startMeshgate(ctx context.Context) (*target, error) {
	ps, err := e.ports(4)
	if err != nil {
		return nil, err
	}
	cfgDir := e.path("meshgate-config")
	if err := os.MkdirAll(cfgDir, 0o755); err != nil {
		return nil, err
	}
	certPEM, err := os.ReadFile(e.cert.cert)
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(e.cert.key)
	if err != nil {
		return nil, err
	}
	b64 := base64.StdEncoding.EncodeToString
	if _, err := e.render("meshgate-config/bench.yaml", meshgateConf, map[string]any{
		"H1": ps[0], "TLS": ps[1], "CertB64": b64(certPEM), "KeyB64": b64(keyPEM), "Backends": e.backends}); err != nil {
		return nil, err
	}
	p, err := e.procs.start("meshgate", []string{"GOMAXPROCS=" + strconv.Itoa(e.threads)},
		e.meshgate, "serve", "--config", cfgDir,
		"--admin", addr(ps[2]), "--status", addr(ps[3]),
		"--access-log", e.path("meshgate-access.log"), "--log-level", "warn")
	if err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, p, "http://"+addr(ps[3])+"/healthz/ready", http.DefaultClient); err != nil {
		return nil, err
	}
	// meshgate serves h1 and h2c (prior knowledge) on one port.
	t := &target{name: "meshgate", h1: addr(ps[0]), h2c: addr(ps[0]), tls: addr(ps[1]), proc: p}
	return t, waitHTTP(ctx, p, "http://"+t.h1+"/100", http.DefaultClient)
}

// String describes where the target listens, for the log.
func (t *target) String() string {
	return fmt.Sprintf("%s (h1 %s, h2c %s, tls %s)", t.name, or(t.h1, "-"), or(t.h2c, "-"), or(t.tls, "-"))
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
