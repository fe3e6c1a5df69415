// Package pipeline is the single writer of configuration: it takes each
// Bundle a source produces, compiles it into a Snapshot and publishes it.
// A Bundle that cannot be read at all (syntax errors, unknown fields) is
// rejected whole and the last good Snapshot keeps serving; semantic
// mistakes only drop the objects they affect (translate is total).
package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
	"github.com/meshgate/meshgate/internal/translate"
)

// Update is one complete view of the configuration from a source, with
// the diagnostics the source found while reading it.
type Update struct {
	Bundle      *resource.Bundle
	Diagnostics diag.List
}

// Publisher makes a snapshot live. It returns an error when part of the
// snapshot could not be made live (a port that cannot be bound); the
// snapshot is still served where it could be.
type Publisher interface {
	Publish(snap *snapshot.Snapshot) error
}

// Status describes the outcome of the latest update and what is serving.
type Status struct {
	// Version of the snapshot serving now; 0 before the first one.
	Version uint64 `json:"version"`
	// AppliedAt is when that snapshot went live.
	AppliedAt time.Time `json:"appliedAt,omitzero"`
	// Rejected is true when the latest update was not applied.
	Rejected bool `json:"rejected"`
	// Diagnostics of the latest update (applied or not).
	Diagnostics diag.List `json:"diagnostics"`
	// PublishError is set when the serving snapshot could not be fully
	// made live (for example a port already in use).
	PublishError string `json:"publishError,omitempty"`
}

// Pipeline compiles and publishes updates, one at a time.
type Pipeline struct {
	identity  translate.Identity
	publisher Publisher
	logger    *slog.Logger

	mu      sync.Mutex
	version uint64
	status  Status
	// last is the latest published snapshot, whose unchanged clusters
	// the next one reuses (reuse.go).
	last *snapshot.Snapshot
	// applied is closed when the first snapshot has been published.
	applied chan struct{}
}

// New returns a pipeline compiling for the given gateway identity.
func New(id translate.Identity, pub Publisher, logger *slog.Logger) *Pipeline {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Pipeline{identity: id, publisher: pub, logger: logger, applied: make(chan struct{})}
}

// Run processes updates until ctx is done or the channel closes.
func (p *Pipeline) Run(ctx context.Context, updates <-chan Update) {
	for {
		select {
		case <-ctx.Done():
			return
		case u, ok := <-updates:
			if !ok {
				return
			}
			p.Process(u)
		}
	}
}

// Process compiles and publishes one update and returns the resulting
// status.
func (p *Pipeline) Process(u Update) Status {
	p.mu.Lock()
	defer p.mu.Unlock()

	diags := append(diag.List(nil), u.Diagnostics...)
	if diags.HasErrors() || u.Bundle == nil {
		diags.Sort()
		p.status.Rejected = true
		p.status.Diagnostics = diags
		p.logDiagnostics(diags)
		p.logger.Error("configuration rejected; the last good configuration keeps serving",
			"errors", len(diags.Errors()), "serving_version", p.version)
		return p.status
	}

	snap, tdiags, err := safeBuild(u.Bundle, p.identity)
	diags = append(diags, tdiags...)
	diags.Sort()
	if err != nil {
		diags = append(diags, diag.Diagnostic{Severity: diag.Error, Code: "MG0001", Message: err.Error()})
		p.status.Rejected = true
		p.status.Diagnostics = diags
		p.logger.Error("configuration compile failed; the last good configuration keeps serving", "error", err)
		return p.status
	}
	p.logDiagnostics(diags)
	reused := reuseClusters(p.last, snap)

	p.version++
	snap.Version = p.version
	p.last = snap
	p.status = Status{Version: p.version, AppliedAt: time.Now(), Diagnostics: diags}
	if err := p.publisher.Publish(snap); err != nil {
		p.status.PublishError = err.Error()
		p.logger.Error("configuration partly applied", "version", p.version, "error", err)
	} else {
		p.logger.Info("configuration applied", "version", p.version,
			"listeners", len(snap.Listeners), "clusters", len(snap.Clusters), "clusters_unchanged", reused, "warnings", len(diags))
	}
	select {
	case <-p.applied:
	default:
		close(p.applied)
	}
	return p.status
}

// Status returns the status of the latest update.
func (p *Pipeline) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status
}

// Applied is closed once the first snapshot has been published.
func (p *Pipeline) Applied() <-chan struct{} { return p.applied }

// safeBuild runs translate, turning a panic (a bug, never a user error)
// into an error so the last good snapshot keeps serving.
func safeBuild(b *resource.Bundle, id translate.Identity) (snap *snapshot.Snapshot, diags diag.List, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error while compiling configuration: %v", r)
		}
	}()
	snap, diags = translate.Build(b, id)
	return snap, diags, nil
}

func (p *Pipeline) logDiagnostics(diags diag.List) {
	for _, d := range diags {
		level := slog.LevelWarn
		if d.Severity == diag.Error {
			level = slog.LevelError
		}
		p.logger.Log(context.Background(), level, d.String())
	}
}
