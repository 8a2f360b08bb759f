package manifest

import (
	"testing"
	"time"
)

func TestSnapshotUnsure(t *testing.T) {
	for _, c := range []struct {
		snap   Snapshot
		source string
		want   bool
	}{
		{Snapshot{}, SourceFile, false},
		{Snapshot{Partial: true}, SourceFile, true},
		{Snapshot{Partial: true}, SourceHTTP, true},
		{Snapshot{Partial: true, PartialSources: []string{SourceHTTP}}, SourceHTTP, true},
		{Snapshot{Partial: true, PartialSources: []string{SourceHTTP}}, SourceFile, false},
		{Snapshot{Partial: true, PartialSources: []string{SourceHTTP}}, "", false},
	} {
		if got := c.snap.Unsure(c.source); got != c.want {
			t.Errorf("%+v.Unsure(%q) = %v, want %v", c.snap, c.source, got, c.want)
		}
	}
}

func TestVersion(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	a := Version{From: VersionCheckpoint, GoodSince: at, StaleSince: at.Add(time.Hour), Reason: "cut off"}
	b := a
	b.GoodSince = at.In(time.FixedZone("x", 3600)) // the same instant
	if !a.Equal(b) {
		t.Error("the same instant in another zone is another version")
	}
	b.Reason = "other"
	if a.Equal(b) {
		t.Error("another reason is the same version")
	}
	for f, want := range map[VersionFrom]string{VersionCurrent: "current", VersionLastGood: "last-good", VersionCheckpoint: "checkpoint", 9: "unknown"} {
		if got, _ := f.MarshalText(); f.String() != want || string(got) != want {
			t.Errorf("%d: %s", f, f)
		}
	}
}
