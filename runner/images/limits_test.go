package images

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/runtime/fake"
)

func TestLimitsValidate(t *testing.T) {
	for _, tc := range []struct {
		l    Limits
		want string
	}{
		{Limits{Serialize: true}, ""},
		{Limits{Serialize: true, MaxParallel: 1}, ""},
		{Limits{MaxParallel: 4, QPS: 5, Burst: 10}, ""},
		{Limits{Serialize: true, MaxParallel: 2}, "needs --serialize-image-pulls=false"},
		{Limits{MaxParallel: -1}, "must not be negative"},
		{Limits{QPS: -1}, "must not be negative"},
		{Limits{QPS: 5}, "--registry-burst"},
	} {
		err := tc.l.Validate()
		if (tc.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.l, err, tc.want)
		}
	}
}

// slowEngine is the fake engine with pulls that take a second each; it
// counts the most pulls at once and notes when each started.
type slowEngine struct {
	*fake.Runtime
	mu        sync.Mutex
	now, most int
	started   []time.Duration
	epoch     time.Time
}

func (e *slowEngine) PullImage(ctx context.Context, ref string, opts runtime.PullOptions) error {
	e.mu.Lock()
	e.now++
	e.most = max(e.most, e.now)
	e.started = append(e.started, time.Since(e.epoch))
	e.mu.Unlock()
	time.Sleep(time.Second)
	e.mu.Lock()
	e.now--
	e.mu.Unlock()
	return e.Runtime.PullImage(ctx, ref, opts)
}

// pullAll pulls n images at once through a Runtime with limits l, in
// virtual time, and returns the engine's record.
func pullAll(t *testing.T, l Limits, n int) *slowEngine {
	t.Helper()
	e := &slowEngine{Runtime: fake.New(), epoch: time.Now()}
	r, err := New(Config{Runtime: e, Limits: l})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range n {
		ref := fmt.Sprintf("registry.example/app:%d", i)
		e.AllowPull(ref)
		wg.Go(func() {
			if err := r.PullImage(context.Background(), ref, runtime.PullOptions{}); err != nil {
				t.Errorf("pull %s: %v", ref, err)
			}
		})
	}
	wg.Wait()
	return e
}

func TestLimitsParallel(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    Limits
		most int
	}{
		{"serialized", Limits{Serialize: true}, 1},
		{"at most 3", Limits{MaxParallel: 3}, 3},
		{"no bound", Limits{}, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				if e := pullAll(t, tc.l, 6); e.most != tc.most {
					t.Errorf("at most %d pulls at once, want %d", e.most, tc.most)
				}
			})
		})
	}
}

// TestLimitsQPS: with 2 pulls per second and bursts of 2, six pulls start
// two at once, then one every half second.
func TestLimitsQPS(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := pullAll(t, Limits{QPS: 2, Burst: 2}, 6)
		want := []time.Duration{0, 0, 500 * time.Millisecond, time.Second, 1500 * time.Millisecond, 2 * time.Second}
		for i, got := range e.started {
			if got != want[i] {
				t.Errorf("pull %d started at %v, want %v (all: %v)", i, got, want[i], e.started)
			}
		}
	})
}
