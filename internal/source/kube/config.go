package kube

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// DefaultClusterID is Istio's name for the cluster when none is given.
const DefaultClusterID = "Kubernetes"

// InCluster reports whether the process runs in a Kubernetes Pod with
// the API server's address in its environment.
func InCluster() bool { return os.Getenv("KUBERNETES_SERVICE_HOST") != "" }

// LoadClusters returns the clusters that kubeconfig paths describe, each
// a file or a directory of files (one kubeconfig per file, as a mounted
// Secret holds them; hidden names are skipped), in the order given and by
// file name within a directory. With no path it uses the Pod's in-cluster
// configuration.
//
// The first cluster is the gateway's own and is called localID; any other
// is called after its kubeconfig's current context's cluster.
func LoadClusters(paths []string, localID string) ([]Cluster, error) {
	if localID == "" {
		localID = DefaultClusterID
	}
	if len(paths) == 0 {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("in-cluster configuration: %w", err)
		}
		return []Cluster{{ID: localID, Config: cfg}}, nil
	}
	var files []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig: %w", err)
		}
		if !fi.IsDir() {
			files = append(files, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig: %w", err)
		}
		var inDir []string
		for _, e := range entries {
			// Secret and ConfigMap volumes hold "..data" and dated
			// hidden directories beside the files' symlinks.
			if strings.HasPrefix(e.Name(), ".") {
				continue
			}
			path := filepath.Join(p, e.Name())
			if st, err := os.Stat(path); err == nil && !st.IsDir() {
				inDir = append(inDir, path)
			}
		}
		if len(inDir) == 0 {
			return nil, fmt.Errorf("kubeconfig: directory %s holds no file", p)
		}
		slices.Sort(inDir)
		files = append(files, inDir...)
	}
	out := make([]Cluster, 0, len(files))
	for i, f := range files {
		c, err := loadKubeconfig(f)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			c.ID = localID
		}
		if slices.ContainsFunc(out, func(o Cluster) bool { return o.ID == c.ID }) {
			return nil, fmt.Errorf("kubeconfig %s: cluster %q is named twice; give each kubeconfig's current context a distinct cluster name", f, c.ID)
		}
		out = append(out, c)
	}
	return out, nil
}

// loadKubeconfig reads one kubeconfig; its cluster is named after the
// current context's cluster.
func loadKubeconfig(path string) (Cluster, error) {
	raw, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return Cluster{}, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	ctx, ok := raw.Contexts[raw.CurrentContext]
	if !ok || ctx.Cluster == "" {
		return Cluster{}, fmt.Errorf("kubeconfig %s: no current context naming a cluster", path)
	}
	cfg, err := clientcmd.NewDefaultClientConfig(*raw, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return Cluster{}, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	if cfg.Host == "" {
		return Cluster{}, errors.New("kubeconfig " + path + ": no server address")
	}
	return Cluster{ID: ctx.Cluster, Config: cfg}, nil
}
