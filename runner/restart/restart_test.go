package restart

import (
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

func TestWanted(t *testing.T) {
	for _, tc := range []struct {
		policy v1.RestartPolicy
		code   int
		want   bool
	}{
		{v1.RestartPolicyAlways, 0, true},
		{v1.RestartPolicyAlways, 1, true},
		{v1.RestartPolicyOnFailure, 0, false},
		{v1.RestartPolicyOnFailure, 137, true},
		{v1.RestartPolicyNever, 0, false},
		{v1.RestartPolicyNever, 1, false},
	} {
		if got := Wanted(tc.policy, tc.code); got != tc.want {
			t.Errorf("Wanted(%s, %d) = %v, want %v", tc.policy, tc.code, got, tc.want)
		}
	}
}

func TestNextDoublesToMaxAndResets(t *testing.T) {
	p := DefaultPolicy
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var b Backoff
	wantWaits := []time.Duration{0, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second,
		160 * time.Second, 300 * time.Second, 300 * time.Second}
	now := t0
	for i, want := range wantWaits {
		started := now
		exited := started.Add(time.Second)
		var at time.Time
		at, b = p.Next(b, started, exited)
		if got := at.Sub(exited); got != want {
			t.Fatalf("crash %d: waits %v, want %v", i+1, got, want)
		}
		now = at
	}
	// A container that ran for the reset period restarts at once.
	started := now
	at, next := p.Next(b, started, started.Add(p.Reset))
	if !at.Equal(started.Add(p.Reset)) || next.Delay != p.Initial {
		t.Fatalf("after a long run: at %v (want immediate), next delay %v (want %v)", at.Sub(started), next.Delay, p.Initial)
	}
}
