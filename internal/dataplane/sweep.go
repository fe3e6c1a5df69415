package dataplane

import (
	"sync"
	"time"
)

// Outlier detection needs a periodic sweep per cluster (Envoy's interval
// timer) to return ejected hosts to service. One goroutine per Server does
// all of them: it sleeps until the earliest sweep is due, never per
// failure or per cluster, and not at all while no cluster uses outlier
// detection.

// minSweepWait keeps a sweep loop that is behind, or a clock that does
// not move, from spinning.
const minSweepWait = 10 * time.Millisecond

// Tick runs the outlier-detection sweeps due at Options.Now and returns
// when the next one is due (zero when none is scheduled). The background
// loop calls it; tests with a fake clock call it after moving the clock.
func (s *Server) Tick() time.Time {
	now := s.opts.Now()
	return s.registry.Sweep(now)
}

// sweeper is the background loop that calls Tick.
type sweeper struct {
	kick     chan struct{}
	quit     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// start runs the loop; tick sweeps and returns the next due time, now is
// the clock that time is on.
func (w *sweeper) start(tick, now func() time.Time) {
	w.kick = make(chan struct{}, 1)
	w.quit = make(chan struct{})
	w.done = make(chan struct{})
	go w.run(tick, now)
}

func (w *sweeper) run(tick, now func() time.Time) {
	defer close(w.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		if next := tick(); !next.IsZero() {
			// Measured on the injected clock: a test's fake clock that
			// stands still makes the loop wait one interval of real time,
			// not spin.
			timer.Reset(max(next.Sub(now()), minSweepWait))
		}
		select {
		case <-w.quit:
			timer.Stop()
			return
		case <-w.kick:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// reschedule makes the loop look at the schedule again; Apply calls it
// because clusters may have gained outlier detection.
func (w *sweeper) reschedule() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *sweeper) stop() {
	w.stopOnce.Do(func() {
		close(w.quit)
		<-w.done
	})
}
