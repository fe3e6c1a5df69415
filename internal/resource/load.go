package resource

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/meshgate/meshgate/internal/diag"
)

// File is the name and content of one configuration file.
type File struct {
	Name string
	Data []byte
}

// LoadPaths reads configuration from files and directories and returns
// the sorted bundle. See ReadPaths for which files are read and Build for
// how they are combined. Objects with errors are left out; everything
// else is returned together with the diagnostics.
func LoadPaths(paths ...string) (*Bundle, diag.List) {
	files, diags := ReadPaths(paths...)
	b, more := Build(files)
	return b, append(diags, more...)
}

// ReadPaths lists and reads the configuration files under paths, in load
// order. A file named directly is always read. A directory is walked
// recursively in lexical order for *.yaml, *.yml and *.json files,
// skipping hidden files and directories (names starting with "."), which
// also skips the "..data" internals of Kubernetes ConfigMap volumes.
// Symbolic links to files are followed; links to directories are not, so
// a link cycle cannot make the walk endless. A file reached twice is read
// once.
func ReadPaths(paths ...string) ([]File, diag.List) {
	var (
		files []File
		diags diag.List
		seen  = make(map[string]bool)
	)
	readErr := func(path string, err error) {
		diags = append(diags, diag.Diagnostic{
			Severity: diag.Error,
			Code:     CodeRead,
			Origin:   diag.Origin{File: path},
			Message:  err.Error(),
		})
	}
	read := func(path string) {
		key := path
		if abs, err := filepath.Abs(path); err == nil {
			key = abs
		}
		if seen[key] {
			return
		}
		seen[key] = true
		data, err := os.ReadFile(path)
		if err != nil {
			readErr(path, err)
			return
		}
		files = append(files, File{Name: path, Data: data})
	}
	for _, root := range paths {
		info, err := os.Stat(root)
		if err != nil {
			readErr(root, err)
			continue
		}
		if !info.IsDir() {
			read(root)
			continue
		}
		// WalkDir does not follow a symlink even at the root; a trailing
		// separator makes it resolve a root that links to a directory.
		walkRoot := root
		if l, err := os.Lstat(root); err == nil && l.Mode()&fs.ModeSymlink != 0 {
			walkRoot = root + string(filepath.Separator)
		}
		err = filepath.WalkDir(walkRoot, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				readErr(path, err)
				return nil
			}
			if path != walkRoot && isHidden(e.Name()) {
				if e.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if e.IsDir() || !isConfigFile(e.Name()) {
				return nil
			}
			if e.Type()&fs.ModeSymlink != 0 {
				target, err := os.Stat(path)
				if err != nil {
					readErr(path, err)
					return nil
				}
				if !target.Mode().IsRegular() {
					return nil
				}
			} else if !e.Type().IsRegular() {
				return nil
			}
			read(path)
			return nil
		})
		if err != nil {
			readErr(root, err)
		}
	}
	return files, diags
}

func isHidden(name string) bool { return strings.HasPrefix(name, ".") }

func isConfigFile(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// Build decodes files, in order, into one bundle. When two objects share
// kind, namespace and name, the first one read wins and the second is
// reported and dropped. The bundle is sorted (see Bundle.Sort).
func Build(files []File) (*Bundle, diag.List) {
	b := &Bundle{Ignored: make(map[string]int)}
	var diags diag.List
	for _, f := range files {
		diags = append(diags, DecodeFile(f.Name, f.Data, b)...)
	}
	b.Gateways = dedup(b.Gateways, func(o *Gateway) *Meta { return &o.Meta }, &diags)
	b.VirtualServices = dedup(b.VirtualServices, func(o *VirtualService) *Meta { return &o.Meta }, &diags)
	b.DestinationRules = dedup(b.DestinationRules, func(o *DestinationRule) *Meta { return &o.Meta }, &diags)
	b.ServiceEntries = dedup(b.ServiceEntries, func(o *ServiceEntry) *Meta { return &o.Meta }, &diags)
	b.WorkloadEntries = dedup(b.WorkloadEntries, func(o *WorkloadEntry) *Meta { return &o.Meta }, &diags)
	b.Services = dedup(b.Services, func(o *Service) *Meta { return &o.Meta }, &diags)
	b.Namespaces = dedup(b.Namespaces, func(o *Namespace) *Meta { return &o.Meta }, &diags)
	b.Secrets = dedup(b.Secrets, func(o *Secret) *Meta { return &o.Meta }, &diags)
	b.KubeGateways = dedup(b.KubeGateways, func(o *KubeGateway) *Meta { return &o.Meta }, &diags)
	b.HTTPRoutes = dedup(b.HTTPRoutes, func(o *HTTPRoute) *Meta { return &o.Meta }, &diags)
	b.GRPCRoutes = dedup(b.GRPCRoutes, func(o *GRPCRoute) *Meta { return &o.Meta }, &diags)
	b.TLSRoutes = dedup(b.TLSRoutes, func(o *TLSRoute) *Meta { return &o.Meta }, &diags)
	b.TCPRoutes = dedup(b.TCPRoutes, func(o *TCPRoute) *Meta { return &o.Meta }, &diags)
	b.ReferenceGrants = dedup(b.ReferenceGrants, func(o *ReferenceGrant) *Meta { return &o.Meta }, &diags)
	b.Sort()
	return b, diags
}

// dedup keeps the first object of each namespace/name, in input order.
func dedup[T any](s []T, meta func(T) *Meta, diags *diag.List) []T {
	first := make(map[string]*Meta, len(s))
	out := s[:0]
	for _, o := range s {
		m := meta(o)
		key := m.Namespace + "/" + m.Name
		if f, dup := first[key]; dup {
			*diags = append(*diags, m.Diag(diag.Error, CodeDuplicateObject, "metadata.name",
				fmt.Sprintf("duplicate %s: %s already defines it; this one is ignored", m.Key(), f.Locate("metadata.name"))))
			continue
		}
		first[key] = m
		out = append(out, o)
	}
	clear(s[len(out):])
	return out
}
