package kube

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func kubeconfig(cluster, server string) []byte {
	return []byte(`apiVersion: v1
kind: Config
clusters:
- name: ` + cluster + `
  cluster: {server: "` + server + `"}
users:
- name: u
  user: {token: t}
contexts:
- name: ctx
  context: {cluster: ` + cluster + `, user: u}
current-context: ctx
`)
}

func TestLoadClusters(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	local := write("local.yaml", kubeconfig("kind-local", "https://10.0.0.1:6443"))
	// A directory as a Secret volume lays it out: files beside hidden
	// dated directories and "..data".
	write("remotes/east", kubeconfig("east", "https://10.0.1.1:6443"))
	write("remotes/west", kubeconfig("west", "https://10.0.2.1:6443"))
	write("remotes/..2024_01_01/east", []byte("not read"))
	dup := write("dup.yaml", kubeconfig("east", "https://10.0.3.1:6443"))
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	bad := write("bad.yaml", []byte("apiVersion: v1\nkind: Config\ncurrent-context: missing\n"))

	tests := []struct {
		name    string
		paths   []string
		localID string
		want    []string // "id host"
		err     string
	}{
		{"one file, default ID", []string{local}, "", []string{"Kubernetes https://10.0.0.1:6443"}, ""},
		{"one file, given ID", []string{local}, "c1", []string{"c1 https://10.0.0.1:6443"}, ""},
		{"file and directory", []string{local, filepath.Join(dir, "remotes")}, "home",
			[]string{"home https://10.0.0.1:6443", "east https://10.0.1.1:6443", "west https://10.0.2.1:6443"}, ""},
		{"a name used twice", []string{local, filepath.Join(dir, "remotes"), dup}, "home", nil, `cluster "east" is named twice`},
		{"empty directory", []string{empty}, "", nil, "holds no file"},
		{"no current context", []string{bad}, "", nil, "no current context"},
		{"missing file", []string{filepath.Join(dir, "nope")}, "", nil, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadClusters(tt.paths, tt.localID)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, c := range got {
				ids = append(ids, c.ID+" "+c.Config.Host)
			}
			if !slices.Equal(ids, tt.want) {
				t.Errorf("clusters = %v, want %v", ids, tt.want)
			}
		})
	}
}

func TestNewChecksClusters(t *testing.T) {
	cs, err := LoadClusters([]string{}, "")
	if err == nil {
		t.Fatalf("in-cluster configuration outside a Pod gave %v", cs)
	}
	for _, opts := range []Options{
		{},
		{Clusters: []Cluster{{ID: ""}}},
	} {
		if _, err := New(opts); err == nil {
			t.Errorf("New(%+v) accepted", opts)
		}
	}
}

// TestUnchanged checks which updates are worth a rebuild.
func TestUnchanged(t *testing.T) {
	pod := func(rv, node string, labels map[string]string, phase corev1.PodPhase) any {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{ResourceVersion: rv, Labels: labels},
			Spec:       corev1.PodSpec{NodeName: node},
			Status:     corev1.PodStatus{Phase: phase},
		}
		out, _ := stripObject(p)
		return out
	}
	node := func(rv string, labels map[string]string, ready corev1.ConditionStatus) any {
		n := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{ResourceVersion: rv, Labels: labels},
			Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}},
		}
		out, _ := stripObject(n)
		return out
	}
	svc := func(rv string, port int32, lb string) any {
		return &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{ResourceVersion: rv},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: port}}},
			Status:     corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: lb}}}},
		}
	}
	a := map[string]string{"app": "a"}
	b := map[string]string{"app": "b"}
	tests := []struct {
		name     string
		same     func(old, cur any) bool
		old, cur any
		want     bool
	}{
		{"pod phase only", samePod, pod("1", "n", a, corev1.PodPending), pod("2", "n", a, corev1.PodRunning), true},
		{"pod labels", samePod, pod("1", "n", a, ""), pod("2", "n", b, ""), false},
		{"pod node", samePod, pod("1", "n", a, ""), pod("2", "m", a, ""), false},
		{"node heartbeat", sameMeta, node("1", a, corev1.ConditionTrue), node("2", a, corev1.ConditionFalse), true},
		{"node labels", sameMeta, node("1", a, ""), node("2", b, ""), false},
		{"service status", sameService, svc("1", 80, "192.0.2.1"), svc("2", 80, "192.0.2.2"), true},
		{"service port", sameService, svc("1", 80, ""), svc("2", 81, ""), false},
		{"resync", sameVersion, svc("1", 80, ""), svc("1", 80, ""), true},
		{"any new version", sameVersion, svc("1", 80, ""), svc("2", 80, ""), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.same(tt.old, tt.cur); got != tt.want {
				t.Errorf("same = %v, want %v", got, tt.want)
			}
		})
	}
}
