package images

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/runner-dev/runner/runner/runtime"
)

// FormatProgress says how far a pull is in a few words: "2/3 layers,
// 1.5 MiB of 4.0 MiB". The log and `runner pull` use it.
func FormatProgress(p runtime.PullProgress) string {
	s := fmt.Sprintf("%d/%d layers", p.LayersDone, p.Layers)
	if p.Total > 0 {
		s += fmt.Sprintf(", %s of %s", FormatBytes(p.Current), FormatBytes(p.Total))
	}
	return s
}

// FormatBytes writes n bytes in binary units with one decimal.
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// progressLog logs a pull's progress every interval while it lasts, from
// the latest report the engine made (a pull whose bytes stop moving says
// so by repeating itself). note is called on the pulling goroutine; the
// logging runs on a goroutine of its own, which stop ends and joins.
type progressLog struct {
	mu     sync.Mutex
	latest runtime.PullProgress
	seen   bool
	stop   func()
}

func startProgressLog(log *slog.Logger, ref string, every time.Duration) *progressLog {
	p := &progressLog{}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		start := time.Now()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				p.mu.Lock()
				latest, seen := p.latest, p.seen
				p.mu.Unlock()
				if seen {
					log.Info("pulling image", "image", ref, "progress", FormatProgress(latest), "elapsed", time.Since(start).Round(time.Second).String())
				}
			}
		}
	})
	p.stop = func() {
		close(done)
		wg.Wait()
	}
	return p
}

func (p *progressLog) note(pp runtime.PullProgress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latest, p.seen = pp, true
}
