package images

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/time/rate"
)

// Limits bound pulls as the kubelet's flags of the same names do.
type Limits struct {
	// Serialize: one pull at a time (serializeImagePulls, the kubelet's
	// default).
	Serialize bool
	// MaxParallel: without Serialize, at most this many pulls at once; 0:
	// no bound (maxParallelImagePulls).
	MaxParallel int
	// QPS: pulls started per second at most, with bursts of Burst; 0: no
	// bound (registryPullQPS, registryBurst). A pull past it waits for its
	// turn (the kubelet fails it with "pull QPS exceeded" and retries after
	// a backoff).
	QPS   float64
	Burst int
}

// Validate says what is wrong with l, as the kubelet's validation does.
func (l Limits) Validate() error {
	switch {
	case l.MaxParallel < 0:
		return errors.New("--max-parallel-image-pulls: must not be negative")
	case l.Serialize && l.MaxParallel > 1:
		return fmt.Errorf("--max-parallel-image-pulls %d needs --serialize-image-pulls=false", l.MaxParallel)
	case l.QPS < 0:
		return errors.New("--registry-qps: must not be negative")
	case l.QPS > 0 && l.Burst < 1:
		return errors.New("--registry-burst: must be at least 1 with --registry-qps")
	}
	return nil
}

// limiter enforces Limits. Safe for concurrent use.
type limiter struct {
	slots chan struct{} // nil: no bound on pulls at once
	rate  *rate.Limiter // nil: no bound on the rate
}

func newLimiter(l Limits) *limiter {
	lim := &limiter{}
	switch {
	case l.Serialize:
		lim.slots = make(chan struct{}, 1)
	case l.MaxParallel > 0:
		lim.slots = make(chan struct{}, l.MaxParallel)
	}
	if l.QPS > 0 {
		lim.rate = rate.NewLimiter(rate.Limit(l.QPS), l.Burst)
	}
	return lim
}

// acquire waits for the rate and for a free slot, or for ctx; the caller
// calls release once its pull is over. Called on the pulling goroutine.
func (l *limiter) acquire(ctx context.Context) (release func(), err error) {
	if l.rate != nil {
		if err := l.rate.Wait(ctx); err != nil {
			return nil, fmt.Errorf("wait for the registry pull rate: %w", err)
		}
	}
	if l.slots == nil {
		return func() {}, nil
	}
	select {
	case l.slots <- struct{}{}:
		return func() { <-l.slots }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for another pull to end: %w", ctx.Err())
	}
}
