package file

import (
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/fsnotify/fsnotify"
)

// watchSet tracks which directories are watched and which events in them
// matter. Directories are watched rather than files: a rename over a file
// or a symlink swap replaces the inode, and a watch on the old file would
// go silent.
type watchSet struct {
	// names maps a watched directory to the entry names that matter in
	// it; a nil set means every entry (a configuration directory).
	names map[string]map[string]bool
}

func newWatchSet() *watchSet {
	return &watchSet{names: make(map[string]map[string]bool)}
}

// sync adds watches for everything paths currently cover: each directory
// tree (hidden directories excepted, as in loading), the directory of
// each file, and the parent of each path so that a path that is deleted
// or does not exist yet is picked up when it (re)appears. Adding a watch
// twice is harmless; watches on deleted directories vanish by themselves.
func (ws *watchSet) sync(w *fsnotify.Watcher, paths []string, logger *slog.Logger) {
	ws.names = make(map[string]map[string]bool)
	add := func(dir string) {
		if err := w.Add(dir); err != nil {
			logger.Warn("cannot watch configuration directory", "dir", dir, "err", err)
		}
	}
	for _, p := range paths {
		p = filepath.Clean(p)
		parent := filepath.Dir(p)
		if _, err := os.Stat(parent); err == nil {
			ws.watchEntry(parent, filepath.Base(p))
			add(parent)
		}
		info, err := os.Stat(p)
		if err != nil || !info.IsDir() {
			continue
		}
		root := p
		if l, err := os.Lstat(p); err == nil && l.Mode()&fs.ModeSymlink != 0 {
			root = p + string(filepath.Separator) // walk the link's target
		}
		_ = filepath.WalkDir(root, func(dir string, e fs.DirEntry, err error) error {
			if err != nil || !e.IsDir() {
				return nil
			}
			if dir != root && strings.HasPrefix(e.Name(), ".") {
				return filepath.SkipDir
			}
			dir = filepath.Clean(dir)
			ws.names[dir] = nil
			add(dir)
			return nil
		})
	}
}

// watchEntry marks one entry of dir as relevant, unless the whole
// directory already is.
func (ws *watchSet) watchEntry(dir, name string) {
	set, seen := ws.names[dir]
	if seen && set == nil {
		return
	}
	if set == nil {
		set = make(map[string]bool)
		ws.names[dir] = set
	}
	set[name] = true
}

// relevant reports whether an event on path may change the configuration.
// Besides the watched names themselves, entries starting with ".." are
// Kubernetes' atomic-writer internals: a ConfigMap update only renames
// "..data", so that must count for files mounted from one.
func (ws *watchSet) relevant(path string) bool {
	dir, name := filepath.Split(path)
	set, ok := ws.names[filepath.Clean(dir)]
	if !ok || set == nil {
		return true // a watched configuration directory, or unknown: reload
	}
	return set[name] || strings.HasPrefix(name, "..")
}
