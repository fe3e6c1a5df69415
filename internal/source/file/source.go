// Package file is a configuration source that reads Istio and Kubernetes
// YAML from files and directories, then keeps watching them. It handles
// the ways configuration files are actually replaced: editors that write a
// temporary file and rename it over the original, and Kubernetes ConfigMap
// volumes that swap a "..data" symlink to a new hidden directory.
package file

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
)

// Update is one complete view of the configuration. Bundle holds every
// object that decoded cleanly, even when Diagnostics reports errors in
// others, so a consumer can decide whether to apply a partial update.
type Update struct {
	Bundle      *resource.Bundle
	Diagnostics diag.List
}

// Source reads configuration from a set of files and directories.
type Source struct {
	paths  []string
	logger *slog.Logger
	// holdoff is how long the files must be quiet before a reload;
	// maxWait bounds the delay when they never go quiet.
	holdoff time.Duration
	maxWait time.Duration
}

// New returns a source for paths, each a file or a directory (see
// resource.ReadPaths for which files are read). logger may be nil.
func New(paths []string, logger *slog.Logger) *Source {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Source{
		paths:   append([]string(nil), paths...),
		logger:  logger,
		holdoff: 100 * time.Millisecond,
		maxWait: time.Second,
	}
}

// Load reads the configuration once.
func (s *Source) Load() (*resource.Bundle, diag.List) {
	return resource.LoadPaths(s.paths...)
}

// Run loads the configuration, sends it, then sends a fresh Update after
// every change until ctx is done. Bursts of file events are coalesced:
// a reload happens once the files have been quiet for 100 ms, or 1 s after
// the first event at the latest. A change that leaves every file as it was
// sends nothing.
//
// Sends never block the watcher: while the reader has not taken an update,
// a newer one replaces it, so the reader always gets the latest state.
// out should be unbuffered; updates already in a channel buffer cannot be
// replaced.
//
// Run returns nil when ctx is done, or an error if watching fails.
func (s *Source) Run(ctx context.Context, out chan<- Update) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watching configuration: %w", err)
	}
	defer w.Close()

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel() // runs first: stops the forwarder, then wait for it
	updates := make(chan Update)
	wg.Go(func() { forward(ctx, updates, out) })

	// Watch before the first read, so that no change can fall between.
	watches := newWatchSet()
	watches.sync(w, s.paths, s.logger)

	r := reloader{source: s}
	send := func(u Update) {
		select {
		case updates <- u:
		case <-ctx.Done():
		}
	}
	if u, changed := r.reload(); changed {
		send(u)
	}

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var burstStart time.Time // zero when no reload is pending
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("configuration watcher stopped")
			}
			if !watches.relevant(ev.Name) {
				continue
			}
			now := time.Now()
			if burstStart.IsZero() {
				burstStart = now
			}
			timer.Reset(min(s.holdoff, s.maxWait-now.Sub(burstStart)))
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("configuration watcher stopped")
			}
			// An overflow means events were lost: reload to be safe.
			s.logger.Warn("configuration watch error", "err", err)
			if burstStart.IsZero() {
				burstStart = time.Now()
				timer.Reset(s.holdoff)
			}
		case <-timer.C:
			burstStart = time.Time{}
			// Directories may have appeared (or been replaced) since.
			watches.sync(w, s.paths, s.logger)
			if u, changed := r.reload(); changed {
				send(u)
			}
		}
	}
}

// reloader reads the configuration and tells whether it changed since the
// last update. It compares file names and contents rather than trusting
// events: editors and volume swaps produce events without changes.
type reloader struct {
	source *Source
	last   [sha256.Size]byte
	loaded bool
}

func (r *reloader) reload() (Update, bool) {
	files, readDiags := resource.ReadPaths(r.source.paths...)
	sum := fingerprint(files, readDiags)
	if r.loaded && sum == r.last {
		return Update{}, false
	}
	r.last, r.loaded = sum, true
	b, diags := resource.Build(files)
	diags = append(readDiags, diags...)
	r.source.logger.Info("configuration loaded",
		"files", len(files),
		"gateways", len(b.Gateways),
		"virtualServices", len(b.VirtualServices),
		"destinationRules", len(b.DestinationRules),
		"serviceEntries", len(b.ServiceEntries),
		"errors", len(diags.Errors()))
	return Update{Bundle: b, Diagnostics: diags}, true
}

func fingerprint(files []resource.File, diags diag.List) [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	for _, f := range files {
		binary.LittleEndian.PutUint64(n[:], uint64(len(f.Name)))
		h.Write(n[:])
		h.Write([]byte(f.Name))
		binary.LittleEndian.PutUint64(n[:], uint64(len(f.Data)))
		h.Write(n[:])
		h.Write(f.Data)
	}
	// Read errors matter too: a file becoming unreadable is a change.
	h.Write([]byte(diags.Error()))
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// forward passes updates from in to out, holding at most one: while out's
// reader is busy, a newer update replaces the one waiting. So a slow
// reader neither blocks the watcher nor receives stale configuration.
func forward(ctx context.Context, in <-chan Update, out chan<- Update) {
	var (
		pending Update
		has     bool
	)
	for {
		var send chan<- Update // nil, so never ready, until there is one
		if has {
			send = out
		}
		select {
		case <-ctx.Done():
			return
		case pending = <-in:
			has = true
		case send <- pending:
			pending, has = Update{}, false
		}
	}
}
