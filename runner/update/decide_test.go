package update

import (
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := t0.Add(time.Minute)
	for _, tc := range []struct {
		name     string
		o        origin
		want     step
		wantWake time.Time
	}{
		{"first content, Ready: it is the Ready content", origin{sum: "a", ready: true}, stepReady, time.Time{}},
		{"Ready content still Ready: nothing", origin{sum: "a", ready: true, lastReady: "a"}, stepNone, time.Time{}},
		{"Ready content, not Ready for now (a crash, a probe): not an update", origin{sum: "a", lastReady: "a", window: time.Second}, stepNone, time.Time{}},
		{"new content: its clock starts", origin{sum: "b", lastReady: "a", window: time.Minute}, stepStart, time.Time{}},
		{"update Ready in time", origin{sum: "b", ready: true, lastReady: "a", updating: "b", since: t0}, stepReady, time.Time{}},
		{"update not Ready yet, time left", origin{sum: "b", lastReady: "a", updating: "b", since: now.Add(-10 * time.Second), window: time.Minute},
			stepNone, now.Add(50 * time.Second)},
		{"update not Ready in time: roll back", origin{sum: "b", lastReady: "a", updating: "b", since: t0, window: time.Minute}, stepRollBack, time.Time{}},
		{"update not Ready, rollback off", origin{sum: "b", lastReady: "a", updating: "b", since: t0}, stepNone, time.Time{}},
		{"never Ready before: nothing to roll back to", origin{sum: "b", updating: "b", since: t0, window: time.Minute}, stepNoFallback, time.Time{}},
		{"never Ready, already said so", origin{sum: "b", updating: "b", since: t0, window: time.Minute, told: true}, stepNone, time.Time{}},
		{"rolled back, origin unchanged: waits", origin{sum: "b", lastReady: "a", failed: "b", window: time.Minute}, stepNone, time.Time{}},
		{"rolled back, origin changed: fresh update", origin{sum: "c", lastReady: "a", failed: "b", window: time.Minute}, stepRetry, time.Time{}},
		{"rolled back, origin back to the Ready content: retry clears", origin{sum: "a", lastReady: "a", failed: "b"}, stepRetry, time.Time{}},
		{"edited during the window: the clock starts again", origin{sum: "c", lastReady: "a", updating: "b", since: t0, window: time.Minute}, stepStart, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, wake := decide(tc.o, now)
			if got != tc.want || !wake.Equal(tc.wantWake) {
				t.Errorf("decide = %v, %v; want %v, %v", got, wake, tc.want, tc.wantWake)
			}
		})
	}
}
