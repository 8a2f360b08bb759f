package probe

import (
	"slices"
	"testing"
)

func TestTally(t *testing.T) {
	S, W, F, U := Success, Warning, Failure, Unknown
	cases := []struct {
		name               string
		kind               Kind
		success, failure   int32
		attempts           []Outcome
		wantStatus         []Status // after each attempt
		wantChangedAtIndex []int
	}{
		{
			name: "readiness starts failing and passes at its first success",
			kind: Readiness, success: 1, failure: 3,
			attempts:           []Outcome{S, S},
			wantStatus:         []Status{StatusSuccess, StatusSuccess},
			wantChangedAtIndex: []int{0},
		},
		{
			name: "liveness fails after failureThreshold failures in a row",
			kind: Liveness, success: 1, failure: 3,
			attempts:           []Outcome{F, F, S, F, F, F},
			wantStatus:         []Status{StatusSuccess, StatusSuccess, StatusSuccess, StatusSuccess, StatusSuccess, StatusFailure},
			wantChangedAtIndex: []int{5},
		},
		{
			name: "successThreshold successes in a row, a failure restarts the run",
			kind: Readiness, success: 2, failure: 1,
			attempts:           []Outcome{S, F, S, S, F, S, S},
			wantStatus:         []Status{StatusFailure, StatusFailure, StatusFailure, StatusSuccess, StatusFailure, StatusFailure, StatusSuccess},
			wantChangedAtIndex: []int{3, 4, 6},
		},
		{
			name: "unknown attempts are not counted and break no run",
			kind: Liveness, success: 1, failure: 3,
			attempts:           []Outcome{F, U, F, U, U, F},
			wantStatus:         []Status{StatusSuccess, StatusSuccess, StatusSuccess, StatusSuccess, StatusSuccess, StatusFailure},
			wantChangedAtIndex: []int{5},
		},
		{
			name: "a warning counts as a success",
			kind: Readiness, success: 2, failure: 3,
			attempts:           []Outcome{W, S},
			wantStatus:         []Status{StatusFailure, StatusSuccess},
			wantChangedAtIndex: []int{1},
		},
		{
			name: "startup is unknown until it succeeds",
			kind: Startup, success: 1, failure: 2,
			attempts:           []Outcome{F, S},
			wantStatus:         []Status{StatusUnknown, StatusSuccess},
			wantChangedAtIndex: []int{1},
		},
		{
			name: "startup fails past its threshold",
			kind: Startup, success: 1, failure: 2,
			attempts:           []Outcome{F, F},
			wantStatus:         []Status{StatusUnknown, StatusFailure},
			wantChangedAtIndex: []int{1},
		},
		{
			name: "zero thresholds are the defaults: 1 success, 3 failures",
			kind: Readiness, success: 0, failure: 0,
			attempts:           []Outcome{S, F, F, F},
			wantStatus:         []Status{StatusSuccess, StatusSuccess, StatusSuccess, StatusFailure},
			wantChangedAtIndex: []int{0, 3},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tl := newTally(c.kind, c.success, c.failure)
			var changedAt []int
			for i, o := range c.attempts {
				if tl.observe(o) {
					changedAt = append(changedAt, i)
				}
				if tl.status != c.wantStatus[i] {
					t.Errorf("after attempt %d (%v): status %v, want %v", i, o, tl.status, c.wantStatus[i])
				}
			}
			if !slices.Equal(changedAt, c.wantChangedAtIndex) {
				t.Errorf("changed at attempts %v, want %v", changedAt, c.wantChangedAtIndex)
			}
		})
	}
}

func TestInitialStatus(t *testing.T) {
	for kind, want := range map[Kind]Status{Liveness: StatusSuccess, Readiness: StatusFailure, Startup: StatusUnknown} {
		if got := InitialStatus(kind); got != want {
			t.Errorf("InitialStatus(%v) = %v, want %v", kind, got, want)
		}
	}
}
